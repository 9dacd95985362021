//! The HTML report in a real browser: a generated trail (plus one event
//! whose tool and server names are markup) rendered with `report --format
//! html --out`, opened in headless Chromium over the DevTools protocol.
//! No console error, no exception, no request but the document itself,
//! no active element from the trail's strings, every chart plotted inside
//! the viewport, and the screenshot shows coloured bars in every chart.
//! A missing `chromium` fails under `CI=true` and skips elsewhere.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::Engine;
use blackbox_tests::binary::blackbox;
use blackbox_tests::cdp::{find_chromium, Browser};
use blackbox_tests::process::run_collect;
use blackbox_tests::trail_gen::{generate, GenSpec};
use serde_json::{json, Value};

const CHARTS: [&str; 4] = [
    "chart-calls",
    "chart-errors",
    "chart-durations",
    "chart-risk",
];
const EVIL_TOOL: &str = r#"<img src=x onerror=alert(1)><script>alert(2)</script>"#;
const VIEWPORT: (u32, u32) = (1280, 2000);

/// The charts' plotted elements (non-zero size, inside the viewport) and
/// their boxes, the active elements of the page, and its text.
const MEASURE: &str = r#"(() => {
  const vw = innerWidth, vh = innerHeight, out = {charts: {}};
  for (const f of document.querySelectorAll('figure.chart')) {
    let plotted = 0;
    for (const el of f.querySelectorAll('svg rect, svg path, svg polyline, svg circle')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= vw && r.bottom <= vh) plotted++;
    }
    const svg = f.querySelector('svg');
    const b = svg && svg.getBoundingClientRect();
    out.charts[f.id] = {plotted, box: b && [b.left, b.top, b.width, b.height]};
  }
  out.active = document.querySelectorAll('script, img, iframe, object, embed, link, form, base').length;
  out.text = document.body.innerText;
  return JSON.stringify(out);
})()"#;

fn evaluate(b: &mut Browser, expr: &str) -> Value {
    let r = b.call(
        "Runtime.evaluate",
        json!({"expression": expr, "returnByValue": true}),
    );
    assert!(r.get("exceptionDetails").is_none(), "{r}");
    r["result"]["value"].clone()
}

/// Pixels of the box whose colour is saturated (the bars; text, axes and
/// the background are grey or white).
fn coloured_pixels(png: &[u8], box_: &[f64]) -> (usize, usize) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (x0, y0) = (box_[0].max(0.0) as usize, box_[1].max(0.0) as usize);
    let x1 = ((box_[0] + box_[2]) as usize).min(info.width as usize);
    let y1 = ((box_[1] + box_[3]) as usize).min(info.height as usize);
    let mut coloured = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = &buf[(y * info.width as usize + x) * channels..][..3];
            let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
            coloured += usize::from(hi - lo > 60);
        }
    }
    (coloured, (x1 - x0) * (y1 - y0))
}

#[test]
fn html_report_renders_offline_with_every_chart_drawn() {
    let Some(chromium) = find_chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    let spec = GenSpec {
        events: 20_000,
        seed: 7,
        plant: true,
        ..GenSpec::default()
    };
    generate(&spec, &trail).unwrap();
    let evil = json!({"v": 1, "event_id": "evil-1", "timestamp": "2026-11-04T00:00:00.000Z",
        "type": "tool_call", "severity": "info", "outcome": "pending", "session_id": "evil",
        "server": "<b>srv</b>", "user": "mallory", "seq": 1, "tool": EVIL_TOOL,
        "risk_level": "critical", "details": {"arguments_bytes": 1}});
    std::fs::write(trail.join("audit-2026-11-04.jsonl"), format!("{evil}\n")).unwrap();
    let page = dir.path().join("report.html");
    let out = run_collect(
        Command::new(blackbox())
            .args(["report", "--format", "html", "--out"])
            .arg(&page)
            .arg(&trail),
        "mcp-blackbox report",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&page).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Content-Security-Policy") && !html.contains("<script"));

    let mut b = Browser::launch(&chromium);
    for domain in ["Network", "Log", "Runtime", "Page"] {
        b.call(&format!("{domain}.enable"), json!({}));
    }
    let (w, h) = VIEWPORT;
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}),
    );
    let url = format!("file://{}", page.display());
    b.call("Page.navigate", json!({"url": url}));
    b.wait_event("Page.loadEventFired");
    let measured: Value =
        serde_json::from_str(evaluate(&mut b, MEASURE).as_str().unwrap()).unwrap();

    let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    for id in CHARTS {
        let c = &measured["charts"][id];
        assert!(c["plotted"].as_u64().unwrap_or(0) > 0, "{id}: {c}");
        let box_: Vec<f64> = c["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let (coloured, area) = coloured_pixels(&png, &box_);
        assert!(
            coloured * 200 > area,
            "{id}: {coloured} coloured pixels of {area}"
        );
    }
    assert_eq!(
        measured["active"], 0,
        "an element from a trail string became markup"
    );
    let text = measured["text"].as_str().unwrap();
    assert!(
        text.contains(EVIL_TOOL) && text.contains("<b>srv</b>"),
        "shown as text"
    );

    b.call("Emulation.setEmulatedMedia", json!({"media": "print"}));
    let print_bg = evaluate(&mut b, "getComputedStyle(document.body).backgroundColor");
    assert_eq!(print_bg, "rgb(255, 255, 255)");

    let requests: Vec<String> = b
        .events_named("Network.requestWillBeSent")
        .iter()
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(requests, [url], "only the document itself is requested");
    let errors: Vec<&Value> = b
        .events
        .iter()
        .filter(|e| match e["method"].as_str() {
            Some("Runtime.exceptionThrown") => true,
            Some("Runtime.consoleAPICalled") => e["params"]["type"] == "error",
            Some("Log.entryAdded") => e["params"]["entry"]["level"] == "error",
            _ => false,
        })
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
