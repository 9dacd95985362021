//! The verdicts of `check` as a person, a program or a CI server reads them.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use super::Verdict;

/// Event ids listed per failed rule in the text summary.
const IDS_SHOWN: usize = 10;

/// One line per rule, `ok` or `FAILED` with what was found and the events
/// behind it, then a count.
pub fn text(label: &str, verdicts: &[Verdict]) -> String {
    let mut out = format!("check {label}\n");
    for v in verdicts {
        let mark = if v.passed { "ok    " } else { "FAILED" };
        out.push_str(&format!("{mark} {}: {}", v.rule, v.message));
        if !v.events.is_empty() {
            let shown: Vec<&str> = v
                .events
                .iter()
                .take(IDS_SHOWN)
                .map(String::as_str)
                .collect();
            out.push_str(&format!("; events: {}", shown.join(", ")));
            if v.events.len() > IDS_SHOWN {
                out.push_str(&format!(" and {} more", v.events.len() - IDS_SHOWN));
            }
        }
        out.push('\n');
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    out.push_str(&format!("{} rules, {failed} failed\n", verdicts.len()));
    out
}

/// `{"input":…,"passed":bool,"rules":[verdict…]}`.
pub fn json(label: &str, verdicts: &[Verdict]) -> String {
    let passed = verdicts.iter().all(|v| v.passed);
    json!({"input": label, "passed": passed, "rules": verdicts}).to_string()
}

/// JUnit XML: one test suite, one test case per rule.
pub fn junit(label: &str, verdicts: &[Verdict]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("mcp-blackbox check");
    let mut suite = TestSuite::new(label);
    for v in verdicts {
        let status = if v.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(v.message.as_str());
            s.set_description(format!("{}\nevents: {}", v.message, v.events.join(", ")));
            s
        };
        let mut case = TestCase::new(v.rule.as_str(), status);
        case.set_classname("mcp-blackbox.check");
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string()
}
