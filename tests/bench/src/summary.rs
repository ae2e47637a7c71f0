//! The lines `all` ends with: issue 14's ratios between confab, the minimal relay and the Node relay
//! in one line, then each of its targets, met or not.

use crate::stats::grouped;

/// What the sweeps and the idle loads of one `all` run found.
#[derive(Debug, Clone)]
pub struct Figures {
    pub commit: String,
    pub cpu_model: String,
    pub cores: usize,
    /// The sweep's highest rate: a saturation there is only a lower bound.
    pub max_rate: u64,
    /// Saturation rates (None: no rate passed).
    pub confab: Option<u64>,
    pub minimal: Option<u64>,
    pub node: Option<u64>,
    /// CPU µs per message of confab at its saturation rate, and of the minimal relay at the same rate.
    pub cpu_per_message: Option<CpuPerMessage>,
    /// Idle RSS per greeted visitor, KB.
    pub idle_kb: [f64; 3],
    /// Confab's idle load: connections opened and greeted, and how long that took.
    pub hellos: usize,
    pub hellos_s: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct CpuPerMessage {
    pub rate: u64,
    pub confab_us: f64,
    pub minimal_us: f64,
}

/// Issue 14's targets.
const SATURATION_VS_MINIMAL: f64 = 0.9;
const CPU_VS_MINIMAL: f64 = 1.5;
const IDLE_KB: f64 = 8.0;
const HELLOS: usize = 10_000;
const HELLOS_S: f64 = 3.0;
const CONFAB_VS_NODE: f64 = 2.0;

fn ratio(a: Option<u64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
        _ => None,
    }
}

fn times(r: Option<f64>) -> String {
    r.map_or_else(|| "–×".to_owned(), |r| format!("{r:.2}×"))
}

fn verdict(met: Option<bool>, measured: String) -> String {
    match met {
        Some(true) => format!("met ({measured})"),
        Some(false) => format!("not met ({measured})"),
        None => format!("not measured ({measured})"),
    }
}

impl Figures {
    /// `9,100/s`, `≥ 8,000/s` when the sweep stopped at its highest rate, `none` when nothing passed.
    fn rate(&self, r: Option<u64>) -> String {
        match r {
            None => "none".into(),
            Some(r) if r >= self.max_rate => format!("≥ {}/s", grouped(r)),
            Some(r) => format!("{}/s", grouped(r)),
        }
    }

    pub fn report(&self) -> String {
        let vs_minimal = ratio(self.confab, self.minimal);
        let vs_node = ratio(self.confab, self.node);
        let cpu = self.cpu_per_message.map(|c| (c, c.confab_us / c.minimal_us.max(1e-9)));
        let cpu_text = match cpu {
            Some((c, r)) => format!("CPU/msg {:.0} µs = {r:.2}× minimal ({:.0} µs, both at {}/s)", c.confab_us, c.minimal_us, grouped(c.rate)),
            None => "CPU/msg –: confab carried no rate".into(),
        };
        let [confab_kb, minimal_kb, node_kb] = self.idle_kb;
        let mut out = format!(
            "summary {} on {}, {} cores: saturation confab {} = {} minimal ({}), {} node ({}); {cpu_text}; \
             idle {confab_kb:.1} KB/visitor (minimal {minimal_kb:.1}, node {node_kb:.1}), {} hellos in {:.1} s\n",
            self.commit,
            self.cpu_model,
            self.cores,
            self.rate(self.confab),
            times(vs_minimal),
            self.rate(self.minimal),
            times(vs_node),
            self.rate(self.node),
            grouped(self.hellos as u64),
            self.hellos_s,
        );
        let hellos = if self.hellos >= HELLOS {
            // Only the time of at least 10,000 greeted connections says whether 10,000 take ≤ 3 s.
            let scaled = self.hellos_s * HELLOS as f64 / self.hellos as f64;
            verdict(Some(scaled <= HELLOS_S), format!("{:.1} s", scaled))
        } else {
            format!("not judged ({} connections opened, in {:.1} s)", grouped(self.hellos as u64), self.hellos_s)
        };
        let lines = [
            (
                format!("saturation ≥ {SATURATION_VS_MINIMAL}× minimal"),
                verdict(vs_minimal.map(|r| r >= SATURATION_VS_MINIMAL), times(vs_minimal)),
            ),
            (format!("CPU/msg ≤ {CPU_VS_MINIMAL}× minimal"), verdict(cpu.map(|(_, r)| r <= CPU_VS_MINIMAL), times(cpu.map(|(_, r)| r)))),
            (format!("idle ≤ {IDLE_KB:.0} KB"), verdict(Some(confab_kb <= IDLE_KB), format!("{confab_kb:.1} KB"))),
            (format!("{} hellos ≤ {HELLOS_S:.0} s", grouped(HELLOS as u64)), hellos),
            (format!("confab ≥ {CONFAB_VS_NODE}× node"), verdict(vs_node.map(|r| r >= CONFAB_VS_NODE), times(vs_node))),
        ];
        for (target, result) in lines {
            out.push_str(&format!("issue 14: {target}: {result}\n"));
        }
        if [self.confab, self.minimal, self.node].contains(&Some(self.max_rate)) {
            out.push_str(&format!(
                "(≥: the relay passed the sweep's highest rate, {}/s; its saturation, and the ratios with it, are bounds)\n",
                grouped(self.max_rate)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            commit: "abc1234".into(),
            cpu_model: "AMD EPYC".into(),
            cores: 2,
            max_rate: 60_000,
            confab: Some(9100),
            minimal: Some(19_800),
            node: Some(4300),
            cpu_per_message: Some(CpuPerMessage { rate: 6800, confab_us: 130.0, minimal_us: 48.0 }),
            idle_kb: [15.1, 6.9, 6.5],
            hellos: 10_000,
            hellos_s: 27.2,
        }
    }

    #[test]
    fn the_summary_gives_the_ratios_in_one_line_then_each_target() {
        let report = figures().report();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines[0],
            "summary abc1234 on AMD EPYC, 2 cores: saturation confab 9,100/s = 0.46× minimal (19,800/s), 2.12× node (4,300/s); \
             CPU/msg 130 µs = 2.71× minimal (48 µs, both at 6,800/s); idle 15.1 KB/visitor (minimal 6.9, node 6.5), 10,000 hellos in 27.2 s"
        );
        assert_eq!(
            &lines[1..],
            [
                "issue 14: saturation ≥ 0.9× minimal: not met (0.46×)",
                "issue 14: CPU/msg ≤ 1.5× minimal: not met (2.71×)",
                "issue 14: idle ≤ 8 KB: not met (15.1 KB)",
                "issue 14: 10,000 hellos ≤ 3 s: not met (27.2 s)",
                "issue 14: confab ≥ 2× node: met (2.12×)",
            ]
        );
    }

    #[test]
    fn a_saturation_at_the_sweeps_ceiling_is_a_bound_and_a_small_idle_load_is_not_judged() {
        let report = Figures { minimal: Some(60_000), node: None, hellos: 2000, hellos_s: 0.4, ..figures() }.report();
        assert!(report.contains("= 0.15× minimal (≥ 60,000/s), –× node (none)"), "{report}");
        assert!(report.contains("issue 14: confab ≥ 2× node: not measured (–×)"), "{report}");
        assert!(report.contains("issue 14: 10,000 hellos ≤ 3 s: not judged (2,000 connections opened, in 0.4 s)"), "{report}");
        assert!(report.contains("are bounds"), "{report}");
    }
}
