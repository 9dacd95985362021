//! The controls of each framework, as data: an id, a title, the check that
//! judges it ([`Check`], evaluated in `super::judge`) and the event types
//! listed as its evidence. docs/compliance.md describes every row.

use super::Framework;

/// How a control is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Events are being recorded (audit on, events in the trail).
    Recorded,
    /// Every event names its user.
    Users,
    /// Required fields (user, type, time, outcome, origin, resource).
    Fields,
    /// Refused calls are recorded.
    Refusals,
    /// The start and end of every recording session are recorded.
    Lifecycle,
    /// Audit files and directories readable by their owner only.
    FileModes,
    /// Hash chains intact and sessions signed (checked with a key).
    Integrity,
    /// Events copied off the machine to a collector.
    Forwarding,
    /// Files kept at least this many days.
    Retention(u64),
    /// Losses of the audit trail itself are recorded.
    LoggingFailures,
    /// Identity on every event and access rules enforced.
    Access,
    /// Activity watched for anomalies off the machine.
    Monitoring,
    /// Security events exist for evaluation (evaluation is a process).
    SecurityEvents,
    /// Tool definition changes recorded and enforced by pins.
    ToolChanges,
    /// Recorded and examinable activity (users named).
    AuditControls,
    /// File modes, integrity and redaction together.
    Confidentiality,
    /// Signing, file modes, integrity and forwarding together.
    Security,
    /// Secrets redacted and storage limited in time.
    Minimisation,
    /// The inventory of servers and tools that processed data.
    Records,
    /// Not something an audit trail can show; the reason says what would.
    NotEvidenced(&'static str),
}

/// One control of a framework.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    pub framework: Framework,
    pub id: &'static str,
    pub title: &'static str,
    pub check: Check,
    /// Event types listed under the control as its evidence.
    pub evidence: &'static [&'static str],
}

const fn c(
    framework: Framework,
    id: &'static str,
    title: &'static str,
    check: Check,
    evidence: &'static [&'static str],
) -> Control {
    Control {
        framework,
        id,
        title,
        check,
        evidence,
    }
}

use Check::*;
use Framework::{Gdpr, Hipaa, PciDss, Soc2};

const LIFECYCLE: &[&str] = &["session_start", "session_end"];
const ACCESS: &[&str] = &["tool_call", "resource_read", "prompt_get"];
const FAILURES: &[&str] = &["audit_dropped", "audit_error", "retention_exceeded"];
const SIGNED: &[&str] = &["checkpoint", "session_end"];
const SECURITY: &[&str] = &["policy_blocked", "tool_changed", "secret_detected"];

/// Every control, framework by framework, in report order.
pub const CONTROLS: &[Control] = &[
    c(PciDss, "10.2.1", "Audit logs are enabled and active", Recorded, &["session_start", "tool_call"]),
    c(PciDss, "10.2.1.1", "Individual user access to data is logged", Users, ACCESS),
    c(PciDss, "10.2.1.2", "Actions by administrative accounts are logged", NotEvidenced(
        "administrative (OS, database) accounts act outside MCP sessions; use the system's own audit logs"), &[]),
    c(PciDss, "10.2.1.3", "Access to audit logs is logged", NotEvidenced(
        "reads of the audit files are not recorded by the proxy; watch the audit directory with the OS audit system (auditd)"), &[]),
    c(PciDss, "10.2.1.4", "Invalid logical access attempts are logged", Refusals, &["policy_blocked"]),
    c(PciDss, "10.2.1.5", "Changes to identification and authentication credentials are logged", NotEvidenced(
        "credentials are managed outside MCP sessions; use the identity provider's logs"), &[]),
    c(PciDss, "10.2.1.6", "Initialization, stopping or pausing of the audit logs is logged", Lifecycle, LIFECYCLE),
    c(PciDss, "10.2.2", "Each entry records user, type, time, success or failure, origination and affected resource", Fields, &["tool_call"]),
    c(PciDss, "10.3.1", "Read access to audit log files is limited", FileModes, &[]),
    c(PciDss, "10.3.2", "Audit log files are protected from modification", Integrity, SIGNED),
    c(PciDss, "10.3.3", "Audit log files are promptly backed up to a central server", Forwarding, &[]),
    c(PciDss, "10.3.4", "Change detection runs on audit logs", Integrity, SIGNED),
    c(PciDss, "10.5.1", "Audit log history kept 12 months, the last 3 immediately available", Retention(365), &[]),
    c(PciDss, "10.7.2", "Failures of the audit logging are detected and reported", LoggingFailures, FAILURES),
    c(Soc2, "CC6.1", "Logical access security over protected information assets", Access, &["policy_blocked"]),
    c(Soc2, "CC7.2", "System components are monitored for anomalies", Monitoring, SECURITY),
    c(Soc2, "CC7.3", "Security events are evaluated", SecurityEvents, SECURITY),
    c(Soc2, "CC8.1", "Changes (tool definitions) are authorised and tracked", ToolChanges, &["tool_changed"]),
    c(Hipaa, "164.312(b)", "Audit controls record and examine activity", AuditControls, ACCESS),
    c(Hipaa, "164.312(c)(1)", "Integrity: records protected from improper alteration", Integrity, SIGNED),
    c(Hipaa, "164.316(b)(2)(i)", "Documentation retained 6 years", Retention(6 * 365), &[]),
    c(Gdpr, "Art. 5(1)(f)", "Integrity and confidentiality of personal data", Confidentiality, &["secret_detected"]),
    c(Gdpr, "Art. 5(1)(c)/(e)", "Data minimisation and storage limitation", Minimisation, &["secret_detected"]),
    c(Gdpr, "Art. 30", "Records of processing activities", Records, &["tool_call"]),
    c(Gdpr, "Art. 32", "Security of processing", Security, &["policy_blocked", "audit_dropped"]),
];

/// The controls of `framework`, in report order.
pub fn controls(framework: Framework) -> impl Iterator<Item = &'static Control> {
    CONTROLS.iter().filter(move |c| c.framework == framework)
}
