//! Where a relay's CPU time goes, from `/proc/PID/task/*/stat`: its threads grouped by name into the
//! writer (`confab-writer`, `confab-checkpoint`), the async runtime and the rest, each split into
//! user and kernel time.
//!
//! The runtime is tokio's worker threads plus the main thread, which drives the accept loop in
//! `block_on` (and is the event loop itself in Node). Everything else — sqlx's SQLite threads,
//! tokio's blocking pool under its own name, Node's V8 and libuv helpers, threads that exited during
//! the interval (whose time only the process's total still holds) — is "other".

use std::time::Instant;

/// One line of `/proc/PID/task/TID/stat`: the thread's name and CPU time in clock ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTimes {
    pub tid: u32,
    pub comm: String,
    pub utime: u64,
    pub stime: u64,
}

/// Parse a `stat` line. The name is between the first `(` and the *last* `)`: it may hold spaces and
/// parentheses itself. utime and stime are fields 14 and 15 (1-based, the name being field 2).
pub fn parse_stat(line: &str) -> Option<TaskTimes> {
    let (tid, rest) = line.split_once(" (")?;
    let (comm, fields) = rest.rsplit_once(')')?;
    let f: Vec<&str> = fields.split_whitespace().collect();
    Some(TaskTimes { tid: tid.trim().parse().ok()?, comm: comm.to_owned(), utime: f.get(11)?.parse().ok()?, stime: f.get(12)?.parse().ok()? })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Writer,
    Runtime,
    Other,
}

const GROUPS: [Group; 3] = [Group::Writer, Group::Runtime, Group::Other];

impl Group {
    /// The group of a thread called `comm` (as the kernel keeps it: at most 15 bytes, so
    /// `confab-checkpoint` reads `confab-checkpoi`).
    pub fn of(comm: &str, main_thread: bool) -> Group {
        let is = |name: &str| comm == &name[..name.len().min(15)];
        if is("confab-writer") || is("confab-checkpoint") {
            Group::Writer
        } else if is("tokio-runtime-worker") || is("tokio-rt-worker") || main_thread {
            Group::Runtime
        } else {
            Group::Other
        }
    }

    fn name(self) -> &'static str {
        match self {
            Group::Writer => "writer",
            Group::Runtime => "runtime",
            Group::Other => "other",
        }
    }
}

/// A process's and each of its threads' CPU time at an instant.
#[derive(Debug, Clone)]
pub struct Sample {
    pid: u32,
    at: Instant,
    /// The process's own line: it also counts threads that have exited.
    process: Option<TaskTimes>,
    tasks: Vec<TaskTimes>,
}

impl Sample {
    pub fn of(pid: u32) -> Sample {
        let at = Instant::now();
        let read = |path: String| std::fs::read_to_string(path).ok().and_then(|s| parse_stat(&s));
        let process = read(format!("/proc/{pid}/stat"));
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| read(format!("{}/stat", e.path().display())))
            .collect();
        Sample { pid, at, process, tasks }
    }
}

/// CPU time of one group over an interval, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticks {
    pub user: u64,
    pub kernel: u64,
}

/// A relay's CPU time over an interval, by group.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Writer, runtime, other.
    pub groups: [Ticks; 3],
    /// Whether the process had a thread of the group (a relay without a writer shows none).
    pub present: [bool; 3],
    pub wall_s: f64,
    pub hz: f64,
}

impl Breakdown {
    pub fn between(earlier: &Sample, later: &Sample) -> Breakdown {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let wall_s = later.at.duration_since(earlier.at).as_secs_f64().max(1e-3);
        Breakdown::of_tasks(later.pid, earlier, later, wall_s, hz)
    }

    fn of_tasks(pid: u32, earlier: &Sample, later: &Sample, wall_s: f64, hz: f64) -> Breakdown {
        let mut groups = [Ticks::default(); 3];
        let mut present = [false; 3];
        let slot = |g: Group| GROUPS.iter().position(|&x| x == g).expect("every group is listed");
        let (mut user_sum, mut kernel_sum) = (0, 0);
        for task in &later.tasks {
            // A thread born during the interval spent all of its time in it.
            let before = earlier.tasks.iter().find(|t| t.tid == task.tid);
            let user = task.utime.saturating_sub(before.map_or(0, |t| t.utime));
            let kernel = task.stime.saturating_sub(before.map_or(0, |t| t.stime));
            let i = slot(Group::of(&task.comm, task.tid == pid));
            present[i] = true;
            groups[i].user += user;
            groups[i].kernel += kernel;
            user_sum += user;
            kernel_sum += kernel;
        }
        // Threads that exited during the interval are gone from `task/`; the process's total still
        // counts them.
        if let (Some(p0), Some(p1)) = (&earlier.process, &later.process) {
            let other = slot(Group::Other);
            groups[other].user += (p1.utime.saturating_sub(p0.utime)).saturating_sub(user_sum);
            groups[other].kernel += (p1.stime.saturating_sub(p0.stime)).saturating_sub(kernel_sum);
        }
        present[slot(Group::Other)] = true;
        Breakdown { groups, present, wall_s, hz }
    }

    /// Ticks as % of one core over the interval.
    fn percent(&self, ticks: u64) -> f64 {
        ticks as f64 / self.hz / self.wall_s * 100.0
    }

    pub fn total_percent(&self) -> f64 {
        self.percent(self.groups.iter().map(|t| t.user + t.kernel).sum())
    }

    /// `CPU 112% = writer 41% (user 33, kernel 8) + runtime 60% (user 50, kernel 10) + other 11% (…)`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = GROUPS
            .iter()
            .zip(self.groups.iter().zip(self.present))
            .filter(|(_, (_, present))| *present)
            .map(|(g, (t, _))| {
                format!(
                    "{} {:.0}% (user {:.0}, kernel {:.0})",
                    g.name(),
                    self.percent(t.user + t.kernel),
                    self.percent(t.user),
                    self.percent(t.kernel)
                )
            })
            .collect();
        format!("CPU {:.0}% = {}", self.total_percent(), parts.join(" + "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tid: u32, comm: &str, utime: u64, stime: u64) -> String {
        format!("{tid} ({comm}) S 1 100 100 0 -1 4194368 1200 0 0 0 {utime} {stime} 0 0 20 0 9 0 12345 1000000 500 18446744073709551615")
    }

    #[test]
    fn a_stat_line_gives_the_name_and_the_user_and_kernel_ticks() {
        assert_eq!(parse_stat(&line(4321, "tokio-rt-worker", 250, 40)), Some(TaskTimes { tid: 4321, comm: "tokio-rt-worker".into(), utime: 250, stime: 40 }));
        // A name may hold spaces and parentheses: only the last `)` ends it.
        let odd = parse_stat(&line(7, "a (b) c) d", 3, 4)).unwrap();
        assert_eq!((odd.comm.as_str(), odd.utime, odd.stime), ("a (b) c) d", 3, 4));
        assert_eq!(parse_stat("7 (short) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn threads_are_grouped_by_their_kernel_names() {
        assert_eq!(Group::of("confab-writer", false), Group::Writer);
        assert_eq!(Group::of("confab-checkpoi", false), Group::Writer, "confab-checkpoint, cut to 15 bytes");
        assert_eq!(Group::of("tokio-runtime-w", false), Group::Runtime, "tokio's default name, cut");
        assert_eq!(Group::of("tokio-rt-worker", false), Group::Runtime);
        assert_eq!(Group::of("confab-relay", true), Group::Runtime, "the main thread drives the accept loop");
        assert_eq!(Group::of("node", true), Group::Runtime, "Node's event loop");
        assert_eq!(Group::of("node", false), Group::Other);
        assert_eq!(Group::of("sqlx-sqlite-wor", false), Group::Other);
        assert_eq!(Group::of("confab-writer-2", false), Group::Other, "the whole name, not a prefix");
    }

    #[test]
    fn the_breakdown_counts_each_threads_time_in_the_interval_and_exited_threads_as_other() {
        let sample = |lines: &[String]| {
            let tasks: Vec<TaskTimes> = lines.iter().map(|l| parse_stat(l).unwrap()).collect();
            let process = TaskTimes { tid: 100, comm: "confab-relay".into(), utime: tasks.iter().map(|t| t.utime).sum(), stime: tasks.iter().map(|t| t.stime).sum() };
            Sample { pid: 100, at: Instant::now(), process: Some(process), tasks }
        };
        let earlier = sample(&[line(100, "confab-relay", 10, 10), line(101, "tokio-runtime-w", 100, 20), line(102, "confab-writer", 50, 5), line(103, "sqlx-sqlite-wor", 7, 7)]);
        let mut later = sample(&[
            line(100, "confab-relay", 12, 11),
            line(101, "tokio-runtime-w", 160, 30),
            line(102, "confab-writer", 90, 15),
            line(104, "tokio-runtime-w", 5, 1), // born during the interval
        ]);
        // Thread 103 exited after 3 + 2 more ticks: only the process's line still has them.
        let p = later.process.as_mut().unwrap();
        p.utime += 7 + 3;
        p.stime += 7 + 2;
        let b = Breakdown::of_tasks(100, &earlier, &later, 1.0, 100.0);
        assert_eq!(b.groups, [Ticks { user: 40, kernel: 10 }, Ticks { user: 2 + 60 + 5, kernel: 1 + 10 + 1 }, Ticks { user: 3, kernel: 2 }]);
        assert_eq!(b.present, [true, true, true]);
        assert_eq!(b.describe(), "CPU 134% = writer 50% (user 40, kernel 10) + runtime 79% (user 67, kernel 12) + other 5% (user 3, kernel 2)");
        let minimal = Breakdown::of_tasks(100, &earlier, &sample(&[line(100, "confab-bench", 20, 20)]), 1.0, 100.0);
        assert!(minimal.describe().starts_with("CPU 20% = runtime"), "no writer line for a relay without one: {}", minimal.describe());
    }
}
