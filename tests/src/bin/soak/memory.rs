//! The verdict on workerd's memory: a trend over the settled end of the run, not a
//! comparison of two medians.
//!
//! workerd's resident memory grows while V8 and workerd warm up (isolate start, key fetch,
//! caches filling, V8's heap growing), for 20 to 30 s of load on an idle machine and for a
//! minute or more on a loaded one, then levels off. A leak grows steadily instead. So the
//! soak judges the slope of the memory, not its level: over the judged window (the last
//! [`MIN_WINDOW_SECONDS`] seconds, or the last half of the run when that is longer, never
//! before half the run, so never over the bundle swaps), the least-squares slope of the
//! resident set against time, projected over the whole requested run (slope × run
//! seconds), may be at most 10 % of the window's median or 16 MiB, whichever is larger.
//!
//! When the memory has not settled at the end of the requested run (the projection is
//! above that allowance), the load goes on and the window slides forward, one sample a
//! second, until it settles or until [`max_extension`] more seconds have passed (as long
//! as the run, at most [`MAX_EXTENSION_SECONDS`]); the verdict is the last window's. A
//! warm-up that levels off passes once the window has left it; a steady leak fails every
//! window, so it fails at the bound.

/// The shortest judged window, in seconds.
pub const MIN_WINDOW_SECONDS: f64 = 30.0;
/// The most a run is extended by when its memory has not settled.
pub const MAX_EXTENSION_SECONDS: f64 = 120.0;
/// The fewest samples (one a second) a window is judged on.
const MIN_SAMPLES: usize = 10;
/// The growth allowed over the run, projected from the slope: this share of the median…
const ALLOWED_SHARE: f64 = 0.10;
/// …or this much, whichever is larger.
const ALLOWED_FLOOR_KIB: f64 = 16.0 * 1024.0;

/// One sample: seconds since the load started, and the resident set in KiB.
pub type Point = (f64, u64);

/// The judgement of one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The window judged: its first and last sample's second.
    pub from: f64,
    pub to: f64,
    pub samples: usize,
    pub median_kib: u64,
    /// Least-squares slope of the resident set over the window.
    pub slope_kib_per_second: f64,
    /// The slope over the requested run.
    pub projected_kib: f64,
    pub allowed_kib: f64,
    pub flat: bool,
}

/// How long the judged window is for a run of `run_seconds`.
pub fn window_seconds(run_seconds: f64) -> f64 {
    MIN_WINDOW_SECONDS.max(run_seconds / 2.0)
}

/// How much longer than `run_seconds` the load may go on while the memory settles.
pub fn max_extension(run_seconds: f64) -> f64 {
    run_seconds.min(MAX_EXTENSION_SECONDS)
}

/// The verdict on the window ending with the last of `samples` (ordered by time), for a
/// run of `run_seconds` requested; `None` when the window has too few samples.
pub fn judge(samples: &[Point], run_seconds: f64) -> Option<Verdict> {
    let &(end, _) = samples.last()?;
    let start = end - window_seconds(run_seconds);
    let window: Vec<Point> = samples
        .iter()
        .copied()
        .filter(|&(t, _)| t >= start)
        .collect();
    if window.len() < MIN_SAMPLES {
        return None;
    }
    let n = window.len() as f64;
    let mean_t = window.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_r = window.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let (covariance, variance) = window.iter().fold((0.0, 0.0), |(c, v), &(t, r)| {
        let dt = t - mean_t;
        (c + dt * (r as f64 - mean_r), v + dt * dt)
    });
    if variance <= 0.0 {
        return None;
    }
    let slope = covariance / variance;
    let mut values: Vec<u64> = window.iter().map(|p| p.1).collect();
    values.sort_unstable();
    let median_kib = values[values.len() / 2];
    let projected_kib = slope * run_seconds;
    let allowed_kib = (median_kib as f64 * ALLOWED_SHARE).max(ALLOWED_FLOOR_KIB);
    Some(Verdict {
        from: window[0].0,
        to: end,
        samples: window.len(),
        median_kib,
        slope_kib_per_second: slope,
        projected_kib,
        allowed_kib,
        flat: projected_kib <= allowed_kib,
    })
}

/// Whether to go on sampling (and loading) at `elapsed` seconds: before the requested end,
/// always; after it, while the memory has not settled, up to [`max_extension`].
pub fn keep_going(samples: &[Point], run_seconds: f64, elapsed: f64) -> bool {
    if elapsed < run_seconds {
        return true;
    }
    if elapsed >= run_seconds + max_extension(run_seconds) {
        return false;
    }
    !judge(samples, run_seconds).is_some_and(|v| v.flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0;

    /// A run of `run_seconds` sampled once a second from `rss` (MiB at a second), extended
    /// as the soak extends it; the samples and the verdict at the end.
    fn run(run_seconds: f64, rss: impl Fn(f64) -> f64) -> (Vec<Point>, Verdict) {
        let mut samples = Vec::new();
        let mut t = 0.0;
        loop {
            t += 1.0;
            samples.push((t, (rss(t) * MIB) as u64));
            if !keep_going(&samples, run_seconds, t) {
                break;
            }
        }
        let verdict = judge(&samples, run_seconds).unwrap();
        (samples, verdict)
    }

    /// Deterministic noise in [-1, 1].
    fn noise(t: f64) -> f64 {
        let mut x = (t as u64).wrapping_mul(6_364_136_223_846_793_005) ^ 0x9e37_79b9_7f4a_7c15;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x % 2001) as f64 / 1000.0 - 1.0
    }

    /// The failing run: under load, memory still rising steeply from 30 to 60 s (the old
    /// rule saw +52 MiB between the thirds of that half), level after 70 s.
    fn slow_warm_up(t: f64) -> f64 {
        90.0 + 150.0 * (t.min(70.0) / 70.0) + 2.0 * noise(t)
    }

    #[test]
    fn a_warm_up_still_rising_at_the_end_extends_the_run_and_then_passes() {
        // At 60 s the window is still on the ramp: not settled.
        let at_60: Vec<Point> = (1..=60)
            .map(|t| (t as f64, (slow_warm_up(t as f64) * MIB) as u64))
            .collect();
        let early = judge(&at_60, 60.0).unwrap();
        assert!(!early.flat, "{early:?}");
        let (samples, verdict) = run(60.0, slow_warm_up);
        assert!(verdict.flat, "{verdict:?}");
        let end = samples.last().unwrap().0;
        assert!(end > 60.0 && end < 120.0, "extended to {end} s");
        assert!(verdict.from >= 60.0, "{verdict:?}");
    }

    #[test]
    fn a_plateau_after_a_quick_warm_up_passes_without_extension() {
        let (samples, verdict) = run(60.0, |t| {
            90.0 + 60.0 * (t.min(20.0) / 20.0) + 3.0 * noise(t)
        });
        assert!(verdict.flat, "{verdict:?}");
        assert_eq!(samples.len(), 60);
    }

    #[test]
    fn noise_on_a_plateau_passes() {
        // ±12 MiB of noise on 150 MiB, and a 7 s saw-tooth of 8 MiB (collections).
        for run_seconds in [60.0, 300.0] {
            let (samples, verdict) = run(run_seconds, |t| {
                150.0 + 12.0 * noise(t) + 8.0 * ((t % 7.0) / 7.0)
            });
            assert!(verdict.flat, "{run_seconds} s: {verdict:?}");
            assert_eq!(samples.len() as f64, run_seconds);
        }
    }

    #[test]
    fn a_steady_leak_fails_even_after_the_extension() {
        // 0.5 MiB/s: 30 MiB over a minute against 16 allowed.
        let (samples, verdict) = run(60.0, |t| 100.0 + 0.5 * t + 3.0 * noise(t));
        assert!(!verdict.flat, "{verdict:?}");
        assert_eq!(samples.last().unwrap().0, 120.0);
        assert!((verdict.slope_kib_per_second / MIB - 0.5).abs() < 0.1);
    }

    #[test]
    fn a_leak_behind_a_warm_up_fails() {
        // A warm-up ramp, then 0.4 MiB/s for good, over a 5 minute run: 120 MiB projected.
        let (_, verdict) = run(300.0, |t| {
            90.0 + 60.0 * (t.min(20.0) / 20.0) + 0.4 * (t - 20.0).max(0.0) + 4.0 * noise(t)
        });
        assert!(!verdict.flat, "{verdict:?}");
    }

    #[test]
    fn a_leak_is_judged_against_the_whole_run() {
        // 0.2 MiB/s: 12 MiB over a minute passes, 60 MiB over five minutes does not.
        let leak = |t: f64| 100.0 + 0.2 * t;
        assert!(run(60.0, leak).1.flat);
        assert!(!run(300.0, leak).1.flat);
    }

    #[test]
    fn the_window_starts_at_half_the_run_at_the_earliest() {
        let samples: Vec<Point> = (1..=200).map(|t| (t as f64, 100 * 1024)).collect();
        let verdict = judge(&samples, 200.0).unwrap();
        assert_eq!(
            (verdict.from, verdict.to, verdict.samples),
            (100.0, 200.0, 101)
        );
        assert!(judge(&samples[..5], 200.0).is_none());
    }
}
