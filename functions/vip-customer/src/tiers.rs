//! Tiers and their benefits. The thresholds and benefits are data (seeded from
//! fixtures, editable in the store); only the four names are fixed, because
//! clients and other services branch on them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Highest birthday bonus a tier may give; keeps a typo in the data from minting points.
pub const MAX_BIRTHDAY_BONUS: i64 = 1_000_000;
/// 100 is 1×; below 100 an earn would credit less than was earned.
pub const MULTIPLIER_RANGE: std::ops::RangeInclusive<i64> = 100..=1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TierName {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl TierName {
    pub const ALL: [TierName; 4] = [TierName::Bronze, TierName::Silver, TierName::Gold, TierName::Platinum];

    pub fn as_str(self) -> &'static str {
        match self {
            TierName::Bronze => "bronze",
            TierName::Silver => "silver",
            TierName::Gold => "gold",
            TierName::Platinum => "platinum",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for TierName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tier gives its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Benefits {
    /// Discount on every order, 0 to 100.
    pub discount_percent: i64,
    pub free_shipping: bool,
    /// Sales open to this tier before everyone else.
    pub early_access: bool,
    pub priority_support: bool,
    /// Points credited on the customer's birthday.
    pub birthday_bonus_points: i64,
    /// Earned points are multiplied by this / 100 (150 is 1.5×).
    pub points_multiplier_percent: i64,
}

/// One tier of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: TierName,
    /// Order of the tiers, lowest first.
    pub rank: i64,
    /// Lifetime points needed to reach this tier.
    pub min_lifetime_points: i64,
    pub benefits: Benefits,
}

/// The catalog ordered by rank, lowest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierCatalog(Vec<Tier>);

/// The tier a ledger change leaves a customer in, and the year it counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierStanding {
    pub tier: TierName,
    pub tier_year: i64,
}

impl TierCatalog {
    pub fn new(mut tiers: Vec<Tier>) -> Self {
        tiers.sort_by_key(|t| (t.rank, t.name));
        Self(tiers)
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn lowest(&self) -> Option<&Tier> {
        self.0.first()
    }

    pub fn get(&self, name: TierName) -> Option<&Tier> {
        self.0.iter().find(|t| t.name == name)
    }

    /// The highest tier whose threshold `lifetime_points` reaches; the lowest tier
    /// when the data sets no zero threshold, so every member has some tier.
    pub fn earned(&self, lifetime_points: i64) -> Option<&Tier> {
        self.0.iter().rev().find(|t| t.min_lifetime_points <= lifetime_points).or_else(|| self.lowest())
    }

    /// The tier just above `name`, if any.
    pub fn next_above(&self, name: TierName) -> Option<&Tier> {
        match self.get(name) {
            Some(current) => self.0.iter().find(|t| t.rank > current.rank),
            None => self.lowest(),
        }
    }

    /// Points multiplier of `name`; 1× for a tier no longer in the catalog.
    pub fn multiplier_percent(&self, name: TierName) -> i64 {
        self.get(name).map(|t| t.benefits.points_multiplier_percent).unwrap_or(100)
    }

    /// The standing after lifetime points changed. Upgrades happen at once. A
    /// downgrade waits for a new calendar year: a member who reached Gold keeps
    /// it for the rest of that year even if a refund takes points away, unless
    /// `downgrade_mid_year` is set.
    pub fn resolve(
        &self,
        current: TierStanding,
        lifetime_points: i64,
        now_year: i64,
        downgrade_mid_year: bool,
    ) -> TierStanding {
        let Some(earned) = self.earned(lifetime_points) else {
            return current;
        };
        let current_rank = self.get(current.tier).map(|t| t.rank);
        let is_downgrade = current_rank.is_some_and(|rank| earned.rank < rank);
        if is_downgrade && !downgrade_mid_year && current.tier_year >= now_year {
            return current;
        }
        TierStanding { tier: earned.name, tier_year: now_year.max(current.tier_year) }
    }
}

/// Checks a whole catalog (the fixture file): distinct names and ranks, thresholds
/// that rise with the rank from 0, and benefits within range.
pub fn validate_catalog(tiers: &[Tier]) -> Result<(), String> {
    let mut problems = Vec::new();
    if tiers.is_empty() {
        problems.push("the catalog has no tiers".to_string());
    }
    for (i, tier) in tiers.iter().enumerate() {
        let name = tier.name;
        if tiers[..i].iter().any(|t| t.name == name) {
            problems.push(format!("{name} appears twice"));
        }
        if tiers[..i].iter().any(|t| t.rank == tier.rank) {
            problems.push(format!("{name} shares rank {} with another tier", tier.rank));
        }
        if tier.min_lifetime_points < 0 {
            problems.push(format!("{name}: min_lifetime_points must not be negative"));
        }
        let b = &tier.benefits;
        if !(0..=100).contains(&b.discount_percent) {
            problems.push(format!("{name}: discount_percent must be between 0 and 100"));
        }
        if !(0..=MAX_BIRTHDAY_BONUS).contains(&b.birthday_bonus_points) {
            problems.push(format!("{name}: birthday_bonus_points must be between 0 and {MAX_BIRTHDAY_BONUS}"));
        }
        if !MULTIPLIER_RANGE.contains(&b.points_multiplier_percent) {
            problems.push(format!(
                "{name}: points_multiplier_percent must be between {} and {}",
                MULTIPLIER_RANGE.start(),
                MULTIPLIER_RANGE.end()
            ));
        }
    }
    let sorted = TierCatalog::new(tiers.to_vec());
    if let Some(lowest) = sorted.lowest()
        && lowest.min_lifetime_points != 0
    {
        problems.push(format!("the lowest tier ({}) must start at 0 lifetime points", lowest.name));
    }
    for pair in sorted.tiers().windows(2) {
        if pair[1].min_lifetime_points <= pair[0].min_lifetime_points {
            problems.push(format!("{} must need more lifetime points than {}", pair[1].name, pair[0].name));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// A tier with no benefits but its points multiplier, for tests of tier rules.
#[cfg(test)]
pub(crate) fn test_tier(name: TierName, rank: i64, min: i64, multiplier: i64) -> Tier {
    Tier {
        name,
        rank,
        min_lifetime_points: min,
        benefits: Benefits {
            discount_percent: 0,
            free_shipping: false,
            early_access: false,
            priority_support: false,
            birthday_bonus_points: 0,
            points_multiplier_percent: multiplier,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: TierName, rank: i64, min: i64, multiplier: i64) -> Tier {
        test_tier(name, rank, min, multiplier)
    }

    fn catalog() -> TierCatalog {
        TierCatalog::new(vec![
            tier(TierName::Gold, 3, 5000, 150),
            tier(TierName::Bronze, 1, 0, 100),
            tier(TierName::Platinum, 4, 15000, 200),
            tier(TierName::Silver, 2, 1000, 125),
        ])
    }

    #[test]
    fn earned_tier_is_the_highest_threshold_reached() {
        let c = catalog();
        assert_eq!(c.earned(0).unwrap().name, TierName::Bronze);
        assert_eq!(c.earned(999).unwrap().name, TierName::Bronze);
        assert_eq!(c.earned(1000).unwrap().name, TierName::Silver);
        assert_eq!(c.earned(14_999).unwrap().name, TierName::Gold);
        assert_eq!(c.earned(1_000_000).unwrap().name, TierName::Platinum);
        assert_eq!(c.next_above(TierName::Silver).unwrap().name, TierName::Gold);
        assert!(c.next_above(TierName::Platinum).is_none());
    }

    #[test]
    fn downgrades_wait_for_a_new_year_unless_configured() {
        let c = catalog();
        let gold_2025 = TierStanding { tier: TierName::Gold, tier_year: 2025 };
        assert_eq!(c.resolve(gold_2025, 10, 2025, false), gold_2025);
        assert_eq!(c.resolve(gold_2025, 10, 2025, true), TierStanding { tier: TierName::Bronze, tier_year: 2025 });
        assert_eq!(c.resolve(gold_2025, 1200, 2026, false), TierStanding { tier: TierName::Silver, tier_year: 2026 });
        // Keeping or reaching a tier renews its year.
        assert_eq!(c.resolve(gold_2025, 6000, 2026, false), TierStanding { tier: TierName::Gold, tier_year: 2026 });
        assert_eq!(
            c.resolve(gold_2025, 20_000, 2025, false),
            TierStanding { tier: TierName::Platinum, tier_year: 2025 }
        );
    }

    #[test]
    fn catalog_validation_names_each_problem() {
        assert!(validate_catalog(catalog().tiers()).is_ok());
        let mut bad = catalog().tiers().to_vec();
        bad[0].min_lifetime_points = 10;
        bad[1].benefits.discount_percent = 101;
        bad[2].rank = 2;
        bad[3].benefits.points_multiplier_percent = 50;
        let problems = validate_catalog(&bad).unwrap_err();
        for needle in ["start at 0", "discount_percent", "shares rank", "points_multiplier_percent"] {
            assert!(problems.contains(needle), "{problems}");
        }
        assert!(validate_catalog(&[]).is_err());
    }
}
