//! The dataset model: how many rows each table gets at a scale, how tenants
//! (clinics) are sized, and which id ranges belong to which clinic.
//!
//! Pure and cheap: a workload can build the same [`Model`] from a dataset's
//! recorded scale to pick tenants with the skew the data has.
//!
//! **Counts.** Scale 1.0 is exactly 10,000 clinics, 100,000 users and
//! 1,000,000 pets; the other tables follow fixed ratios ([`Table::per`]).
//!
//! **Skew.** Clinic number `i` (0-based, id `i + 1`, largest first) has the
//! weight `(C / (i + 0.5))^0.75`: the quantiles of a Pareto distribution with
//! α = 4/3 (computed with `sqrt` only, so it is bit-identical everywhere).
//! Users and pets are dealt to clinics in proportion to these weights, on top
//! of a floor of [`MIN_USERS_PER_CLINIC`] users and one pet each; every
//! clinic's users and pets are contiguous id ranges.
//!
//! **For workloads.** `Model::new(fingerprint.scale)` rebuilds the model of a
//! seeded database. To hit tenants with the skew the data has, draw a pet
//! row uniformly in `0..pets` and take [`Model::clinic_of_pet`]: each clinic
//! comes up in proportion to its size. Ids are row numbers + 1.

use std::ops::Range;

/// Microseconds from the PostgreSQL epoch (2000-01-01 UTC) to the dataset's
/// "now", 2026-12-01 00:00 UTC. Fixed so that data is reproducible: past
/// appointments lie before it, future ones after it.
pub const NOW_US: i64 = 9831 * DAY_US;
/// The dataset's "now" ([`NOW_US`]) as a timestamp.
pub fn dataset_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from_timestamp(946_684_800, 0)
        .expect("2000-01-01 is a valid timestamp")
        + chrono::Duration::microseconds(NOW_US)
}

/// One day in microseconds.
pub const DAY_US: i64 = 86_400_000_000;
/// One year (365 days) in microseconds.
pub const YEAR_US: i64 = 365 * DAY_US;

/// Users of every clinic at least: an admin, a vet, an owner.
pub const MIN_USERS_PER_CLINIC: u64 = 3;
/// Services every clinic offers (the catalog of `rows.rs`).
pub const SERVICES_PER_CLINIC: u64 = 20;

/// The tables dbload fills, in load-dependency order (parents first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Clinics,
    Users,
    Pets,
    Services,
    Appointments,
    MedicalRecords,
    Prescriptions,
    Invoices,
    InvoiceItems,
    UserSessions,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::Clinics,
        Table::Users,
        Table::Pets,
        Table::Services,
        Table::Appointments,
        Table::MedicalRecords,
        Table::Prescriptions,
        Table::Invoices,
        Table::InvoiceItems,
        Table::UserSessions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Clinics => "clinics",
            Table::Users => "users",
            Table::Pets => "pets",
            Table::Services => "services",
            Table::Appointments => "appointments",
            Table::MedicalRecords => "medical_records",
            Table::Prescriptions => "prescriptions",
            Table::Invoices => "invoices",
            Table::InvoiceItems => "invoice_items",
            Table::UserSessions => "user_sessions",
        }
    }

    /// The documented ratio: rows of this table per row of its driver.
    pub fn per(self) -> (&'static str, f64) {
        match self {
            Table::Clinics => ("scale", 10_000.0),
            Table::Users => ("scale", 100_000.0),
            Table::Pets => ("scale", 1_000_000.0),
            Table::Services => ("clinic", SERVICES_PER_CLINIC as f64),
            Table::Appointments => ("pet", 2.0),
            Table::MedicalRecords => ("pet", 1.0),
            Table::Prescriptions => ("medical record", 0.5),
            Table::Invoices => ("pet", 1.0),
            Table::InvoiceItems => ("invoice", 2.5),
            Table::UserSessions => ("user", 3.0),
        }
    }

    /// Average bytes a row takes on disk, heap plus indexes, measured at
    /// scale 1 (1.43 GB in all; used to estimate the space a scale needs).
    pub fn bytes_per_row(self) -> u64 {
        match self {
            Table::Clinics => 330,
            Table::Users => 290,
            Table::Pets => 185,
            Table::Services => 160,
            Table::Appointments => 180,
            Table::MedicalRecords => 190,
            Table::Prescriptions => 290,
            Table::Invoices => 185,
            Table::InvoiceItems => 115,
            Table::UserSessions => 225,
        }
    }
}

/// Row counts and clinic id ranges at one scale.
#[derive(Debug, Clone)]
pub struct Model {
    pub scale: f64,
    pub clinics: u64,
    pub users: u64,
    pub pets: u64,
    /// `user_starts[i]..user_starts[i + 1]` are clinic `i`'s users (0-based
    /// row numbers; ids are row + 1).
    user_starts: Vec<u64>,
    pet_starts: Vec<u64>,
}

/// Integer weight of clinic `i` of `c` (largest first); see the module doc.
pub fn clinic_weight(i: u64, c: u64) -> u64 {
    let x = c as f64 / (i as f64 + 0.5);
    let s = x.sqrt();
    // x^0.75 = sqrt(x) * sqrt(sqrt(x)): IEEE sqrt is exact-rounded everywhere.
    ((s * s.sqrt()) * 1000.0) as u64
}

/// Deal `total` items to clinics: `min` each, the rest by weight. Returns
/// `c + 1` cumulative starts; the last is `total`.
fn deal(weights_cum: &[u64], total: u64, min: u64) -> Vec<u64> {
    let c = (weights_cum.len() - 1) as u64;
    let wtot = *weights_cum.last().unwrap() as u128;
    let rest = total.saturating_sub(c * min) as u128;
    weights_cum
        .iter()
        .enumerate()
        .map(|(i, &w)| i as u64 * min + (rest * w as u128 / wtot) as u64)
        .collect()
}

impl Model {
    /// The model at `scale` (> 0; [`super::plan`] validates it).
    pub fn new(scale: f64) -> Model {
        let clinics = ((10_000.0 * scale).round() as u64).max(1);
        let users = ((100_000.0 * scale).round() as u64).max(clinics * MIN_USERS_PER_CLINIC);
        let pets = ((1_000_000.0 * scale).round() as u64).max(clinics);
        let mut cum = Vec::with_capacity(clinics as usize + 1);
        let mut acc = 0u64;
        cum.push(0);
        for i in 0..clinics {
            acc += clinic_weight(i, clinics);
            cum.push(acc);
        }
        Model {
            scale,
            clinics,
            users,
            pets,
            user_starts: deal(&cum, users, MIN_USERS_PER_CLINIC),
            pet_starts: deal(&cum, pets, 1),
        }
    }

    /// Rows of `table` at this scale.
    pub fn count(&self, table: Table) -> u64 {
        match table {
            Table::Clinics => self.clinics,
            Table::Users => self.users,
            Table::Pets => self.pets,
            Table::Services => self.clinics * SERVICES_PER_CLINIC,
            Table::Appointments => self.pets * 2,
            Table::MedicalRecords => self.pets,
            Table::Prescriptions => self.pets / 2,
            Table::Invoices => self.pets,
            Table::InvoiceItems => self.pets * 5 / 2,
            Table::UserSessions => self.users * 3,
        }
    }

    /// Estimated bytes on disk (heap and indexes) of the whole dataset.
    pub fn estimated_bytes(&self) -> u64 {
        Table::ALL
            .iter()
            .map(|&t| self.count(t) * t.bytes_per_row())
            .sum()
    }

    /// 0-based user rows of clinic row `c`.
    pub fn users_of(&self, c: u64) -> Range<u64> {
        self.user_starts[c as usize]..self.user_starts[c as usize + 1]
    }

    /// 0-based pet rows of clinic row `c`.
    pub fn pets_of(&self, c: u64) -> Range<u64> {
        self.pet_starts[c as usize]..self.pet_starts[c as usize + 1]
    }

    /// The clinic row a user row belongs to.
    pub fn clinic_of_user(&self, u: u64) -> u64 {
        (self.user_starts.partition_point(|&s| s <= u) - 1) as u64
    }

    /// The clinic row a pet row belongs to.
    pub fn clinic_of_pet(&self, p: u64) -> u64 {
        (self.pet_starts.partition_point(|&s| s <= p) - 1) as u64
    }

    /// Staff layout of clinic `c`: (vets, other staff); the first user is the
    /// admin, then the vets, then the staff, then the pet owners.
    pub fn staff_of(&self, c: u64) -> (u64, u64) {
        let n = self.users_of(c).end - self.users_of(c).start;
        let vets = (n / 12).max(1);
        let staff = n / 15;
        (vets, staff.min(n - 2 - vets))
    }

    /// 0-based user rows of clinic `c`'s pet owners.
    pub fn owners_of(&self, c: u64) -> Range<u64> {
        let r = self.users_of(c);
        let (v, s) = self.staff_of(c);
        r.start + 1 + v + s..r.end
    }

    /// Share of all pets held by the largest `fraction` of clinics.
    pub fn top_share(&self, fraction: f64) -> f64 {
        let k = ((self.clinics as f64 * fraction).ceil() as u64).clamp(1, self.clinics);
        self.pet_starts[k as usize] as f64 / self.pets as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_2026_12_01() {
        let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!((now - epoch).num_days() * DAY_US, NOW_US);
        assert_eq!(dataset_now().to_rfc3339(), "2026-12-01T00:00:00+00:00");
    }

    #[test]
    fn headline_counts_are_exact() {
        let m = Model::new(1.0);
        assert_eq!((m.clinics, m.users, m.pets), (10_000, 100_000, 1_000_000));
        let m = Model::new(0.01);
        assert_eq!((m.clinics, m.users, m.pets), (100, 1_000, 10_000));
        assert_eq!(m.count(Table::Appointments), 20_000);
        assert_eq!(m.count(Table::InvoiceItems), 25_000);
        let m = Model::new(0.0001);
        assert_eq!((m.clinics, m.users, m.pets), (1, 10, 100));
    }

    #[test]
    fn ranges_partition_rows_and_respect_floors() {
        for scale in [0.0001, 0.003, 0.01, 0.37, 1.0] {
            let m = Model::new(scale);
            let mut u = 0;
            let mut p = 0;
            for c in 0..m.clinics {
                let ur = m.users_of(c);
                let pr = m.pets_of(c);
                assert_eq!(ur.start, u);
                assert_eq!(pr.start, p);
                assert!(ur.end - ur.start >= MIN_USERS_PER_CLINIC);
                assert!(pr.end > pr.start);
                assert!(!m.owners_of(c).is_empty());
                assert_eq!(m.clinic_of_user(ur.start), c);
                assert_eq!(m.clinic_of_user(ur.end - 1), c);
                assert_eq!(m.clinic_of_pet(pr.end - 1), c);
                u = ur.end;
                p = pr.end;
            }
            assert_eq!((u, p), (m.users, m.pets));
        }
    }

    #[test]
    fn clinic_sizes_are_skewed_largest_first() {
        let m = Model::new(1.0);
        let size = |c| m.pets_of(c).end - m.pets_of(c).start;
        for c in 1..m.clinics {
            assert!(size(c) <= size(c - 1) + 1, "clinic {c}");
        }
        // The distribution documented in README.md.
        assert_eq!(size(0), 44_224);
        assert_eq!(m.users_of(0).end - m.users_of(0).start, 3_129);
        assert_eq!(size(m.clinics / 2), 45);
        assert_eq!(size(m.clinics - 1), 28);
        let share = |f| (m.top_share(f) * 100.0).round() as u32;
        assert_eq!(
            [share(0.01), share(0.1), share(0.2), share(0.5)],
            [27, 53, 64, 83]
        );
    }
}
