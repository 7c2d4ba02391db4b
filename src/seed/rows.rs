//! Row generators: each table's row `n` as a pure function of (seed, n).
//!
//! A row's *key columns* (owner, clinic, times, status…) come from a
//! "skeleton" stream that child tables recompute to stay consistent (an
//! invoice recomputes its appointment, a record its visit); descriptive
//! columns come from a second stream. Relationships by row number:
//!
//! | table | row `n` is tied to |
//! |---|---|
//! | services | clinic `n / 20`, catalog entry `n % 20` |
//! | appointments | a pet of clinic `clinic_of_pet(n / 2)` |
//! | medical_records | appointment `2n` (a visit, or a walk-in if that visit did not happen) |
//! | prescriptions | medical record `2n` |
//! | invoices | appointment `2n + 1` |
//! | invoice_items | invoice `n · invoices / items` (2–3 items each) |
//! | user_sessions | user `n / 3` |
//!
//! Unique columns embed the row id (emails, slugs, microchips, attachment
//! keys, session uuids) or a per-clinic counter (invoice numbers), so they
//! are unique by construction. Times are microseconds since 2000-01-01 UTC.

use std::ops::Range;

use bytes::BufMut;
use fake::locales::{Data, EN};

use super::copy::RowBuf;
use super::lists;
use super::model::{DAY_US, Model, NOW_US, SERVICES_PER_CLINIC, Table, YEAR_US};
use super::rng::RowRng;

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 60 * MINUTE_US;
/// Stream of the key columns (recomputed by child tables).
const KEYS: u32 = 0;
/// Stream of the descriptive columns.
const DETAILS: u32 = 1;

/// The columns each table's COPY sends, in encoding order.
pub fn columns(t: Table) -> &'static str {
    match t {
        Table::Clinics => {
            "id, name, slug, chain_name, plan, phone, email, address, city, country, timezone, is_active, created_at"
        }
        Table::Users => {
            "id, clinic_id, email, password_hash, full_name, phone, role, is_active, created_at, last_login_at"
        }
        Table::Pets => {
            "id, clinic_id, owner_id, name, species, breed, sex, birth_date, weight_kg, microchip, created_at, deceased_at, traits"
        }
        Table::Services => {
            "id, clinic_id, name, category, duration_min, price_cents, is_public, is_active"
        }
        Table::Appointments => {
            "id, clinic_id, pet_id, vet_id, service_id, starts_at, ends_at, status, reason, created_at"
        }
        Table::MedicalRecords => {
            "id, clinic_id, pet_id, appointment_id, vet_id, recorded_at, weight_kg, temperature_c, diagnosis, notes"
        }
        Table::Prescriptions => {
            "id, clinic_id, pet_id, record_id, vet_id, drug_name, dosage, instructions, issued_at, expires_at, \
             attachment_name, attachment_content_type, attachment_size_bytes, attachment_sha256, attachment_key"
        }
        Table::Invoices => {
            "id, clinic_id, owner_id, appointment_id, number, status, currency, total_cents, issued_at, due_at, paid_at"
        }
        Table::InvoiceItems => {
            "id, clinic_id, invoice_id, service_id, description, quantity, unit_price_cents"
        }
        Table::UserSessions => "id, user_id, created_at, expires_at, ip, user_agent",
    }
}

/// The generator for one dataset: seed and model.
#[derive(Debug, Clone)]
pub struct Gen {
    pub seed: u64,
    pub model: Model,
}

#[derive(Debug, Clone, Copy)]
struct ClinicKeys {
    created: i64,
    country: usize,
    price_pct: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Admin,
    Vet,
    Staff,
    Owner,
}

#[derive(Debug, Clone, Copy)]
struct UserKeys {
    clinic: u64,
    role: Role,
    created: i64,
}

#[derive(Debug, Clone, Copy)]
struct PetKeys {
    clinic: u64,
    owner: u64,
    created: i64,
    species: usize,
    birth: i64,
    weight: Option<i64>,
    deceased: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Visit {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
    NoShow,
}

impl Visit {
    fn as_str(self) -> &'static str {
        match self {
            Visit::Scheduled => "scheduled",
            Visit::Confirmed => "confirmed",
            Visit::Completed => "completed",
            Visit::Cancelled => "cancelled",
            Visit::NoShow => "no_show",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ApptKeys {
    clinic: u64,
    pet: u64,
    pk: PetKeys,
    vet: u64,
    service: usize,
    starts: i64,
    ends: i64,
    status: Visit,
    created: i64,
}

#[derive(Debug, Clone, Copy)]
struct RecordKeys {
    ap: ApptKeys,
    appointment: Option<u64>,
    recorded: i64,
}

#[derive(Debug, Clone, Copy)]
struct ItemKeys {
    invoice: u64,
    clinic: u64,
    service: Option<u64>,
    /// Catalog service index, or product index when `service` is None.
    what: usize,
    qty: i32,
    unit_price: i64,
}

fn days(us: i64) -> i32 {
    us.div_euclid(DAY_US) as i32
}

/// Lower-case ASCII letters and digits of `s`.
fn put_slug_part(b: &mut bytes::BytesMut, s: &str) {
    for c in s.bytes() {
        if c.is_ascii_alphanumeric() {
            b.put_u8(c.to_ascii_lowercase());
        }
    }
}

fn put_phone(b: &mut bytes::BytesMut, rng: &mut RowRng, formats: &[&str]) {
    for c in rng.pick(formats).bytes() {
        match c {
            b'#' => b.put_u8(b'0' + rng.below(10) as u8),
            b'^' => b.put_u8(b'1' + rng.below(9) as u8),
            c => b.put_u8(c),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const BCRYPT: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Gen {
    pub fn new(seed: u64, model: Model) -> Gen {
        Gen { seed, model }
    }

    fn rng(&self, t: Table, row: u64, purpose: u32) -> RowRng {
        RowRng::new(self.seed, t as u32, row, purpose)
    }

    /// Encode rows `rows` (0-based row numbers; id = row + 1) of `t`.
    pub fn encode(&self, t: Table, rows: Range<u64>, out: &mut RowBuf) {
        for n in rows {
            match t {
                Table::Clinics => self.clinic(n, out),
                Table::Users => self.user(n, out),
                Table::Pets => self.pet(n, out),
                Table::Services => self.service(n, out),
                Table::Appointments => self.appointment(n, out),
                Table::MedicalRecords => self.medical_record(n, out),
                Table::Prescriptions => self.prescription(n, out),
                Table::Invoices => self.invoice(n, out),
                Table::InvoiceItems => self.invoice_item(n, out),
                Table::UserSessions => self.user_session(n, out),
            }
        }
    }

    // ---- clinics ---------------------------------------------------------

    fn clinic_keys(&self, c: u64) -> ClinicKeys {
        let mut r = self.rng(Table::Clinics, c, KEYS);
        let m = &self.model;
        // Bigger (lower-numbered) clinics are older customers.
        let seniority = ((m.clinics - c) * 5 * 365 / m.clinics) as i64;
        let age_days = 60 + r.below(3 * 365) as i64 + seniority;
        let country = self.weighted_index(&mut r, lists::COUNTRIES);
        ClinicKeys {
            created: NOW_US - age_days * DAY_US - r.below(DAY_US as u64) as i64,
            country,
            price_pct: r.range(80, 150),
        }
    }

    fn weighted_index<T>(&self, r: &mut RowRng, items: &[(u32, T)]) -> usize {
        let total: u64 = items.iter().map(|(w, _)| *w as u64).sum();
        let mut x = r.below(total);
        for (i, (w, _)) in items.iter().enumerate() {
            if x < *w as u64 {
                return i;
            }
            x -= *w as u64;
        }
        items.len() - 1
    }

    /// (name, city) of clinic `c`.
    fn clinic_identity(&self, c: u64) -> (String, String) {
        let mut r = self.rng(Table::Clinics, c, 2);
        let last = r.pick(EN::NAME_LAST_NAME);
        let suffix = r.pick(EN::ADDRESS_CITY_SUFFIX);
        let city = if r.pct(30) {
            format!("{} {last}{suffix}", r.pick(EN::ADDRESS_CITY_PREFIX))
        } else {
            format!("{last}{suffix}")
        };
        let person = r.pick(EN::NAME_LAST_NAME);
        let name = r
            .pick(lists::CLINIC_PATTERNS)
            .replace("{c}", &city)
            .replace("{n}", person);
        (name, city)
    }

    fn clinic_slug(&self, c: u64, name: &str) -> String {
        let mut s = String::with_capacity(name.len() + 8);
        let mut dash = true;
        for ch in name.chars() {
            if ch.is_ascii_alphanumeric() {
                s.push(ch.to_ascii_lowercase());
                dash = false;
            } else if !dash {
                s.push('-');
                dash = true;
            }
        }
        if !dash {
            s.push('-');
        }
        s.push_str(&(c + 1).to_string());
        s
    }

    fn clinic(&self, c: u64, out: &mut RowBuf) {
        let k = self.clinic_keys(c);
        let (name, city) = self.clinic_identity(c);
        let slug = self.clinic_slug(c, &name);
        let mut r = self.rng(Table::Clinics, c, DETAILS);
        let m = &self.model;
        let permille = c * 1000 / m.clinics;
        out.row(13);
        out.i64(c as i64 + 1);
        out.text(&name);
        out.text(&slug);
        if c < (m.clinics / 100).max(1) {
            out.text(lists::CHAINS[c as usize % lists::CHAINS.len()]);
        } else if r.pct(8) {
            out.text(r.pick(lists::REGIONAL_GROUPS));
        } else {
            out.null();
        }
        let plan = match permille {
            0..10 => "enterprise",
            10..100 => ["pro", "pro", "pro", "enterprise"][r.below(4) as usize],
            100..400 => ["starter", "starter", "pro"][r.below(3) as usize],
            _ => ["free", "free", "free", "starter", "starter"][r.below(5) as usize],
        };
        out.text(plan);
        out.text_with(|b| put_phone(b, &mut r, EN::PHONE_NUMBER_FORMATS));
        out.text_fmt(format_args!("info@{slug}.vet"));
        out.text_fmt(format_args!(
            "{} {} {}",
            r.range(1, 9999),
            r.pick(EN::NAME_LAST_NAME),
            r.pick(EN::ADDRESS_STREET_SUFFIX)
        ));
        out.text(&city);
        let (code, zones) = lists::COUNTRIES[k.country].1;
        out.text(code);
        out.text(r.pick(zones));
        out.bool(!r.pct(3));
        out.ts(k.created);
    }

    // ---- users -----------------------------------------------------------

    fn user_keys(&self, u: u64) -> UserKeys {
        let m = &self.model;
        let clinic = m.clinic_of_user(u);
        let pos = u - m.users_of(clinic).start;
        let (vets, staff) = m.staff_of(clinic);
        let role = if pos == 0 {
            Role::Admin
        } else if pos <= vets {
            Role::Vet
        } else if pos <= vets + staff {
            Role::Staff
        } else {
            Role::Owner
        };
        let ck = self.clinic_keys(clinic);
        let created = if role == Role::Admin {
            ck.created
        } else {
            let mut r = self.rng(Table::Users, u, KEYS);
            ck.created + r.below((NOW_US - DAY_US - ck.created).max(1) as u64) as i64
        };
        UserKeys {
            clinic,
            role,
            created,
        }
    }

    fn user(&self, u: u64, out: &mut RowBuf) {
        let k = self.user_keys(u);
        let mut r = self.rng(Table::Users, u, DETAILS);
        let first = r.pick(EN::NAME_FIRST_NAME);
        let last = r.pick(EN::NAME_LAST_NAME);
        out.row(10);
        out.i64(u as i64 + 1);
        out.i64(k.clinic as i64 + 1);
        if k.role == Role::Owner {
            let domain = r.pick(lists::EMAIL_DOMAINS);
            out.text_with(|b| {
                put_slug_part(b, first);
                b.put_u8(b'.');
                put_slug_part(b, last);
                b.put_slice((u + 1).to_string().as_bytes());
                b.put_u8(b'@');
                b.put_slice(domain.as_bytes());
            });
        } else {
            let (name, _) = self.clinic_identity(k.clinic);
            let slug = self.clinic_slug(k.clinic, &name);
            out.text_with(|b| {
                put_slug_part(b, first);
                b.put_u8(b'.');
                put_slug_part(b, last);
                b.put_slice((u + 1).to_string().as_bytes());
                b.put_u8(b'@');
                b.put_slice(slug.as_bytes());
                b.put_slice(b".vet");
            });
        }
        out.text_with(|b| {
            b.put_slice(b"$2b$12$");
            for _ in 0..6 {
                let mut x = r.draw();
                for _ in 0..9 {
                    b.put_u8(BCRYPT[(x & 63) as usize]);
                    x >>= 6;
                }
            }
            b.truncate(b.len() - 1); // 53 characters
        });
        out.text_fmt(format_args!("{first} {last}"));
        if r.pct(85) {
            out.text_with(|b| put_phone(b, &mut r, EN::PHONE_CELL_NUMBER_FORMATS));
        } else {
            out.null();
        }
        out.text(match k.role {
            Role::Admin => "admin",
            Role::Vet => "vet",
            Role::Staff => "staff",
            Role::Owner => "owner",
        });
        out.bool(!r.pct(3));
        out.ts(k.created);
        if r.pct(80) {
            // The later of two uniform draws: logins cluster near "now".
            let span = (NOW_US - k.created).max(1) as u64;
            let t = r.below(span).max(r.below(span));
            out.ts(k.created + t as i64);
        } else {
            out.null();
        }
    }

    // ---- pets ------------------------------------------------------------

    fn pet_keys(&self, p: u64) -> PetKeys {
        let m = &self.model;
        let clinic = m.clinic_of_pet(p);
        let owners = m.owners_of(clinic);
        let mut r = self.rng(Table::Pets, p, KEYS);
        let owner = owners.start + r.below(owners.end - owners.start);
        let oc = self.user_keys(owner).created;
        let created = oc + r.below((NOW_US - 2 * DAY_US - oc).max(1) as u64) as i64;
        let species = self.weighted_index(&mut r, lists::SPECIES);
        let (lo, hi, life) = lists::species_body(lists::SPECIES[species].1.0);
        let birth = created - r.below((life * YEAR_US * 3 / 4) as u64) as i64 - 8 * 7 * DAY_US;
        let weight = r.pct(90).then(|| r.range(lo, hi));
        let deceased = (r.pct(3) && created < NOW_US - 60 * DAY_US)
            .then(|| NOW_US - 1 - r.below(30 * DAY_US as u64) as i64);
        PetKeys {
            clinic,
            owner,
            created,
            species,
            birth,
            weight,
            deceased,
        }
    }

    fn pet(&self, p: u64, out: &mut RowBuf) {
        let k = self.pet_keys(p);
        let mut r = self.rng(Table::Pets, p, DETAILS);
        let (species, breeds) = lists::SPECIES[k.species].1;
        out.row(13);
        out.i64(p as i64 + 1);
        out.i64(k.clinic as i64 + 1);
        out.i64(k.owner as i64 + 1);
        out.text(r.pick(lists::PET_NAMES));
        out.text(species);
        if r.pct(85) {
            out.text(r.pick(breeds));
        } else {
            out.null();
        }
        out.text(match r.below(100) {
            0..48 => "M",
            48..96 => "F",
            _ => "U",
        });
        if r.pct(95) {
            out.date(days(k.birth));
        } else {
            out.null();
        }
        match k.weight {
            Some(w) => out.numeric(w, 2),
            None => out.null(),
        }
        let chipped = if matches!(species, "dog" | "cat") {
            r.pct(70)
        } else {
            r.pct(15)
        };
        if chipped {
            out.text_fmt(format_args!("985{:012}", p + 1));
        } else {
            out.null();
        }
        out.ts(k.created);
        match k.deceased {
            Some(d) => out.ts(d),
            None => out.null(),
        }
        // traits (jsonb; drawn after every other column, so adding it left
        // them unchanged): 12 % have allergies, 8 % a chronic condition,
        // cats say whether they live indoors.
        let allergies: Vec<&str> = if r.pct(12) {
            let first = r.pick(lists::ALLERGIES);
            let second = r.pct(25).then(|| r.pick(lists::ALLERGIES));
            std::iter::once(first)
                .chain(second.filter(|s| *s != first))
                .collect()
        } else {
            Vec::new()
        };
        let chronic = r.pct(8).then(|| r.pick(lists::CHRONIC));
        let indoor = (species == "cat").then(|| r.pct(60));
        out.jsonb_with(|b| {
            let mut parts: Vec<String> = Vec::new();
            if !allergies.is_empty() {
                let l: Vec<String> = allergies.iter().map(|a| format!("\"{a}\"")).collect();
                parts.push(format!("\"allergies\": [{}]", l.join(", ")));
            }
            if let Some(c) = chronic {
                parts.push(format!("\"chronic\": \"{c}\""));
            }
            if let Some(i) = indoor {
                parts.push(format!("\"indoor\": {i}"));
            }
            b.extend_from_slice(format!("{{{}}}", parts.join(", ")).as_bytes());
        });
    }

    // ---- services --------------------------------------------------------

    /// (clinic, catalog index, minutes, price in cents) of service row `s`.
    fn service_keys(&self, s: u64) -> (u64, usize, i32, i64) {
        let clinic = s / SERVICES_PER_CLINIC;
        let idx = (s % SERVICES_PER_CLINIC) as usize;
        let (_, _, minutes, base) = lists::SERVICES[idx].1;
        let pct = self.clinic_keys(clinic).price_pct;
        (clinic, idx, minutes, base * pct / 100 / 50 * 50)
    }

    fn service(&self, s: u64, out: &mut RowBuf) {
        let (clinic, idx, minutes, price) = self.service_keys(s);
        let (name, category, _, _) = lists::SERVICES[idx].1;
        let mut r = self.rng(Table::Services, s, DETAILS);
        out.row(8);
        out.i64(s as i64 + 1);
        out.i64(clinic as i64 + 1);
        out.text(name);
        out.text(category);
        out.i32(minutes);
        out.i32(price as i32);
        out.bool(category != "surgery" && r.pct(90));
        out.bool(!r.pct(4));
    }

    // ---- appointments ----------------------------------------------------

    fn appt_keys(&self, a: u64) -> ApptKeys {
        let m = &self.model;
        let clinic = m.clinic_of_pet(a / 2);
        let pets = m.pets_of(clinic);
        let mut r = self.rng(Table::Appointments, a, KEYS);
        let pet = pets.start + r.below(pets.end - pets.start);
        let pk = self.pet_keys(pet);
        let (vets, _) = m.staff_of(clinic);
        let vet = m.users_of(clinic).start + 1 + r.below(vets);
        let service = self.weighted_index(&mut r, lists::SERVICES);
        let minutes = self
            .service_keys(clinic * SERVICES_PER_CLINIC + service as u64)
            .2;
        let first_day = pk.created.div_euclid(DAY_US) + 1;
        let last_day = NOW_US.div_euclid(DAY_US) - 2;
        let future = r.pct(15) || last_day < first_day;
        let day = if future {
            NOW_US.div_euclid(DAY_US) + r.range(0, 89)
        } else {
            r.range(first_day, last_day)
        };
        let starts = day * DAY_US + 8 * HOUR_US + r.below(40) as i64 * 15 * MINUTE_US;
        let mut status = if future {
            if r.pct(60) {
                Visit::Scheduled
            } else {
                Visit::Confirmed
            }
        } else {
            match r.below(100) {
                0..85 => Visit::Completed,
                85..93 => Visit::Cancelled,
                _ => Visit::NoShow,
            }
        };
        if pk.deceased.is_some_and(|d| starts > d) {
            status = Visit::Cancelled;
        }
        let booked = starts - HOUR_US - r.below(30 * DAY_US as u64) as i64;
        ApptKeys {
            clinic,
            pet,
            pk,
            vet,
            service,
            starts,
            ends: starts + minutes as i64 * MINUTE_US,
            status,
            created: booked.max(pk.created).min(NOW_US - MINUTE_US),
        }
    }

    fn appointment(&self, a: u64, out: &mut RowBuf) {
        let k = self.appt_keys(a);
        let mut r = self.rng(Table::Appointments, a, DETAILS);
        out.row(10);
        out.i64(a as i64 + 1);
        out.i64(k.clinic as i64 + 1);
        out.i64(k.pet as i64 + 1);
        out.i64(k.vet as i64 + 1);
        out.i64((k.clinic * SERVICES_PER_CLINIC + k.service as u64) as i64 + 1);
        out.ts(k.starts);
        out.ts(k.ends);
        out.text(k.status.as_str());
        if r.pct(70) {
            out.text(r.pick(lists::REASONS));
        } else {
            out.null();
        }
        out.ts(k.created);
    }

    // ---- medical records -------------------------------------------------

    fn record_keys(&self, n: u64) -> RecordKeys {
        let a = 2 * n;
        let ap = self.appt_keys(a);
        if ap.status == Visit::Completed {
            let mut r = self.rng(Table::MedicalRecords, n, KEYS);
            RecordKeys {
                ap,
                appointment: Some(a),
                recorded: ap.ends + r.below(30 * MINUTE_US as u64) as i64,
            }
        } else {
            // The visit did not happen: a walk-in record instead.
            let mut r = self.rng(Table::MedicalRecords, n, KEYS);
            let end = ap.pk.deceased.unwrap_or(NOW_US);
            let from = ap.pk.created + HOUR_US;
            RecordKeys {
                ap,
                appointment: None,
                recorded: from + r.below((end - from).max(1) as u64) as i64,
            }
        }
    }

    fn medical_record(&self, n: u64, out: &mut RowBuf) {
        let k = self.record_keys(n);
        let mut r = self.rng(Table::MedicalRecords, n, DETAILS);
        out.row(10);
        out.i64(n as i64 + 1);
        out.i64(k.ap.clinic as i64 + 1);
        out.i64(k.ap.pet as i64 + 1);
        match k.appointment {
            Some(a) => out.i64(a as i64 + 1),
            None => out.null(),
        }
        out.i64(k.ap.vet as i64 + 1);
        out.ts(k.recorded);
        match k.ap.pk.weight {
            Some(w) if r.pct(85) => out.numeric((w * r.range(95, 105) / 100).max(1), 2),
            _ => out.null(),
        }
        if r.pct(80) {
            let species = lists::SPECIES[k.ap.pk.species].1.0;
            let (lo, hi) = match species {
                "bird" => (400, 420),
                "reptile" => (300, 350),
                "horse" => (375, 385),
                "rabbit" => (385, 400),
                _ => (375, 392),
            };
            let fever = if r.pct(10) { r.range(5, 15) } else { 0 };
            out.numeric((r.range(lo, hi) + fever).clamp(300, 450), 1);
        } else {
            out.null();
        }
        out.text(r.pick(lists::DIAGNOSES));
        if r.pct(70) {
            out.text_fmt(format_args!(
                "{} {}",
                r.pick(lists::NOTE_FINDINGS),
                r.pick(lists::NOTE_PLANS)
            ));
        } else {
            out.null();
        }
    }

    // ---- prescriptions ---------------------------------------------------

    fn prescription(&self, q: u64, out: &mut RowBuf) {
        let rec = 2 * q;
        let k = self.record_keys(rec);
        let mut r = self.rng(Table::Prescriptions, q, DETAILS);
        let id = q as i64 + 1;
        let (drug, dosage) = r.pick(lists::DRUGS);
        let issued = k.recorded + r.range(1, 20) * MINUTE_US;
        out.row(15);
        out.i64(id);
        out.i64(k.ap.clinic as i64 + 1);
        out.i64(k.ap.pet as i64 + 1);
        out.i64(rec as i64 + 1);
        out.i64(k.ap.vet as i64 + 1);
        out.text(drug);
        out.text(dosage);
        if r.pct(80) {
            out.text(r.pick(lists::INSTRUCTIONS));
        } else {
            out.null();
        }
        out.ts(issued);
        if r.pct(90) {
            out.ts(issued + r.range(30, 365) * DAY_US);
        } else {
            out.null();
        }
        if r.pct(40) {
            let (ext, ctype) = *r.weighted(&[
                (70, ("pdf", "application/pdf")),
                (20, ("jpg", "image/jpeg")),
                (10, ("png", "image/png")),
            ]);
            out.text_fmt(format_args!("prescription-{id}.{ext}"));
            out.text(ctype);
            out.i64(r.range(20_000, 5_000_000));
            let words = [r.draw(), r.draw(), r.draw(), r.draw()];
            out.text_with(|b| {
                for w in words {
                    for i in (0..16).rev() {
                        b.put_u8(HEX[((w >> (i * 4)) & 15) as usize]);
                    }
                }
            });
            out.text_fmt(format_args!(
                "clinics/{}/prescriptions/{id}-{:08x}.{ext}",
                k.ap.clinic + 1,
                words[0] as u32
            ));
        } else {
            for _ in 0..5 {
                out.null();
            }
        }
    }

    // ---- invoices --------------------------------------------------------

    /// First item row of invoice `i`.
    fn first_item(&self, i: u64) -> u64 {
        let inv = self.model.count(Table::Invoices) as u128;
        let items = self.model.count(Table::InvoiceItems) as u128;
        ((i as u128 * items).div_ceil(inv)) as u64
    }

    fn item_keys(&self, j: u64, i: u64, ap: &ApptKeys) -> ItemKeys {
        let mut r = self.rng(Table::InvoiceItems, j, KEYS);
        let clinic = ap.clinic;
        let svc = |idx: usize| self.service_keys(clinic * SERVICES_PER_CLINIC + idx as u64);
        if j == self.first_item(i) {
            let (_, _, _, price) = svc(ap.service);
            return ItemKeys {
                invoice: i,
                clinic,
                service: Some(clinic * SERVICES_PER_CLINIC + ap.service as u64),
                what: ap.service,
                qty: 1,
                unit_price: price,
            };
        }
        if r.pct(30) {
            let idx = r.below(SERVICES_PER_CLINIC) as usize;
            ItemKeys {
                invoice: i,
                clinic,
                service: Some(clinic * SERVICES_PER_CLINIC + idx as u64),
                what: idx,
                qty: 1,
                unit_price: svc(idx).3,
            }
        } else {
            let idx = r.below(lists::PRODUCTS.len() as u64) as usize;
            let pct = self.clinic_keys(clinic).price_pct;
            ItemKeys {
                invoice: i,
                clinic,
                service: None,
                what: idx,
                qty: *r.weighted(&[(75, 1), (18, 2), (7, 3)]),
                unit_price: lists::PRODUCTS[idx].1 * pct / 100 / 10 * 10,
            }
        }
    }

    fn invoice(&self, i: u64, out: &mut RowBuf) {
        let a = 2 * i + 1;
        let ap = self.appt_keys(a);
        let mut r = self.rng(Table::Invoices, i, DETAILS);
        let total: i64 = (self.first_item(i)..self.first_item(i + 1))
            .map(|j| {
                let it = self.item_keys(j, i, &ap);
                it.qty as i64 * it.unit_price
            })
            .sum();
        let local = i - self.model.pets_of(ap.clinic).start + 1;
        let (mut status, issued, due, mut paid) = match ap.status {
            Visit::Completed => {
                let st = *r.weighted(&[(85, "paid"), (10, "open"), (5, "void")]);
                let paid = (st == "paid").then(|| ap.ends + r.below(20 * DAY_US as u64) as i64);
                (st, ap.ends, Some(ap.ends + 14 * DAY_US), paid)
            }
            Visit::Scheduled | Visit::Confirmed => ("draft", ap.created, None, None),
            Visit::Cancelled | Visit::NoShow => {
                let st = if r.pct(60) { "void" } else { "open" };
                (st, ap.starts, Some(ap.starts + 14 * DAY_US), None)
            }
        };
        if paid.is_some_and(|p| p >= NOW_US) {
            status = "open";
            paid = None;
        }
        out.row(11);
        out.i64(i as i64 + 1);
        out.i64(ap.clinic as i64 + 1);
        out.i64(ap.pk.owner as i64 + 1);
        out.i64(a as i64 + 1);
        out.text_fmt(format_args!("INV-{local:06}"));
        out.text(status);
        out.text(
            match lists::COUNTRIES[self.clinic_keys(ap.clinic).country].1.0 {
                "US" => "USD",
                "CA" => "CAD",
                "GB" => "GBP",
                "AU" => "AUD",
                _ => "EUR",
            },
        );
        out.i64(total);
        out.ts(issued);
        match due {
            Some(d) => out.ts(d),
            None => out.null(),
        }
        match paid {
            Some(p) => out.ts(p),
            None => out.null(),
        }
    }

    fn invoice_item(&self, j: u64, out: &mut RowBuf) {
        let inv = self.model.count(Table::Invoices) as u128;
        let items = self.model.count(Table::InvoiceItems) as u128;
        let i = (j as u128 * inv / items) as u64;
        let ap = self.appt_keys(2 * i + 1);
        let k = self.item_keys(j, i, &ap);
        out.row(7);
        out.i64(j as i64 + 1);
        out.i64(k.clinic as i64 + 1);
        out.i64(k.invoice as i64 + 1);
        match k.service {
            Some(s) => {
                out.i64(s as i64 + 1);
                out.text(lists::SERVICES[k.what].1.0);
            }
            None => {
                out.null();
                out.text(lists::PRODUCTS[k.what].0);
            }
        }
        out.i32(k.qty);
        out.i32(k.unit_price as i32);
    }

    // ---- sessions --------------------------------------------------------

    fn user_session(&self, s: u64, out: &mut RowBuf) {
        let user = s / 3;
        let uk = self.user_keys(user);
        let mut r = self.rng(Table::UserSessions, s, DETAILS);
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&r.draw().to_be_bytes());
        id[8..10].copy_from_slice(&(r.draw() as u16).to_be_bytes());
        id[10..].copy_from_slice(&s.to_be_bytes()[2..]);
        id[6] = (id[6] & 0x0f) | 0x40; // version 4
        id[8] = (id[8] & 0x3f) | 0x80; // RFC 4122 variant
        let created = (NOW_US - r.below(180 * DAY_US as u64) as i64).max(uk.created + MINUTE_US);
        out.row(6);
        out.uuid(id);
        out.i64(user as i64 + 1);
        out.ts(created);
        out.ts(created + if r.pct(20) { 1 } else { 30 } * DAY_US);
        out.inet4([
            r.range(1, 223) as u8,
            r.below(256) as u8,
            r.below(256) as u8,
            r.range(1, 254) as u8,
        ]);
        if r.pct(90) {
            out.text(r.pick(EN::INTERNET_USER_AGENT));
        } else {
            out.null();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_at(scale: f64) -> Gen {
        Gen::new(42, Model::new(scale))
    }

    #[test]
    fn same_rows_whatever_the_chunking() {
        let g = gen_at(0.001);
        for t in Table::ALL {
            let n = g.model.count(t);
            let mut whole = RowBuf::with_capacity(1 << 16);
            g.encode(t, 0..n, &mut whole);
            let mut parts = Vec::new();
            for start in (0..n).step_by(7) {
                let mut b = RowBuf::with_capacity(1024);
                g.encode(t, start..(start + 7).min(n), &mut b);
                parts.extend_from_slice(&b.finish());
            }
            assert_eq!(whole.finish().to_vec(), parts, "{}", t.name());
        }
    }

    #[test]
    fn unique_columns_are_unique_by_construction() {
        let g = gen_at(0.01);
        let mut emails = std::collections::HashSet::new();
        for u in 0..g.model.users {
            let mut b = RowBuf::with_capacity(512);
            g.user(u, &mut b);
            let v = b.finish();
            // row: i16 count, id (4+8), clinic_id (4+8), then the email.
            let len = i32::from_be_bytes(v[26..30].try_into().unwrap()) as usize;
            let email = std::str::from_utf8(&v[30..30 + len]).unwrap().to_owned();
            assert_eq!(email, email.to_lowercase());
            assert!(email.contains(&format!("{}@", u + 1)), "{email}");
            assert!(emails.insert(email));
        }
        let mut slugs = std::collections::HashSet::new();
        for c in 0..g.model.clinics {
            let (name, _) = g.clinic_identity(c);
            let slug = g.clinic_slug(c, &name);
            assert!(
                slug.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{slug}"
            );
            assert!(slugs.insert(slug));
        }
    }

    #[test]
    fn times_are_ordered() {
        let g = gen_at(0.01);
        for a in 0..g.model.count(Table::Appointments) {
            let k = g.appt_keys(a);
            assert!(k.pk.birth < k.pk.created && k.pk.created < k.starts, "{a}");
            assert!(k.created <= k.starts && k.ends > k.starts);
            let past = matches!(k.status, Visit::Completed | Visit::NoShow);
            assert!(!past || k.starts < NOW_US);
            assert!(g.user_keys(k.vet).role == Role::Vet);
            assert!(g.user_keys(k.pk.owner).role == Role::Owner);
            assert_eq!(g.user_keys(k.vet).clinic, k.clinic);
        }
        for n in 0..g.model.count(Table::MedicalRecords) {
            let k = g.record_keys(n);
            assert!(
                k.recorded > k.ap.pk.created && k.recorded <= NOW_US,
                "{n} {k:?}"
            );
        }
    }

    #[test]
    fn every_clinic_offers_the_whole_catalog() {
        assert_eq!(lists::SERVICES.len() as u64, SERVICES_PER_CLINIC);
        let names: std::collections::HashSet<_> =
            lists::SERVICES.iter().map(|(_, s)| s.0).collect();
        assert_eq!(
            names.len(),
            lists::SERVICES.len(),
            "(clinic_id, name) is unique"
        );
    }

    #[test]
    fn invoice_items_cover_every_invoice() {
        let g = gen_at(0.01);
        let inv = g.model.count(Table::Invoices);
        assert_eq!(g.first_item(0), 0);
        assert_eq!(g.first_item(inv), g.model.count(Table::InvoiceItems));
        for i in 0..inv {
            let n = g.first_item(i + 1) - g.first_item(i);
            assert!((2..=3).contains(&n), "invoice {i}: {n} items");
        }
    }
}
