//! Plan-cost arithmetic shared by every kind of candidate: how much of a
//! statement's cost an index saves.

/// The saving of going from `before` to `after`, as a fraction.
pub fn saving(before: f64, after: f64) -> f64 {
    if before <= 0.0 {
        0.0
    } else {
        (1.0 - after / before).clamp(0.0, 1.0)
    }
}

/// The share of the statement's `original` cost that going from `before`
/// to `after` removes (0..1).
pub fn share(before: f64, after: f64, original: f64) -> f64 {
    if original > 0.0 {
        ((before - after) / original).clamp(0.0, 1.0)
    } else {
        0.0
    }
}
