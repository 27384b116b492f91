//! Percentiles and summaries of latency samples (milliseconds).

/// The nearest-rank percentile of sorted samples: the smallest sample with at
/// least `p` percent of the samples at or below it. Nothing for no samples.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises samples in any order; nothing for no samples.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let sorted = sorted(samples);
        Some(Self {
            count: sorted.len(),
            min: *sorted.first()?,
            p50: percentile(&sorted, 50.0)?,
            p90: percentile(&sorted, 90.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
        })
    }
}

pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Milliseconds of a duration, for samples.
pub fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// A latency for tables: three significant digits, at most three decimals.
pub fn fmt_ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0), "rank 0 is the smallest sample");
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        // ceil(0.99 * 20) = 20: with 20 samples p99 is the largest one.
        assert_eq!(percentile(&twenty, 99.0), Some(20.0));
        assert_eq!(percentile(&twenty, 50.0), Some(10.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn summaries_sort_and_drop_non_finite_samples() {
        let summary = Summary::of(&[3.0, 1.0, f64::NAN, 2.0]).unwrap();
        assert_eq!((summary.count, summary.min, summary.p50, summary.max), (3, 1.0, 2.0, 3.0));
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn milliseconds_are_formatted_to_three_significant_digits() {
        assert_eq!(fmt_ms(0.04567), "0.046");
        assert_eq!(fmt_ms(4.567), "4.57");
        assert_eq!(fmt_ms(45.67), "45.7");
        assert_eq!(fmt_ms(456.7), "457");
    }
}
