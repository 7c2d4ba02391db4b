-- The default dbload workload: the vet-clinic SaaS mix (`dbload stress`
-- without --workload runs this file; it is embedded in the binary).
--
-- Format (see README, "Workload files"): `-- @` lines are directives, the
-- rest is plain SQL. To run a statement by hand in psql, \set the variables
-- it uses, then paste it — psql substitutes :name and :'name' itself:
--   \set clinic 1
--   \set pet 42
--   \set now '2026-12-01 10:00+00'
--
-- Shares: dashboard 35 %, availability + booking 20 %, medical records 10 %,
-- public service listing 8 %, search 9 %, login 7 %, checkout 4 %,
-- prescription upload 4 %, "my pets" 3 %.
--
-- Parameters come from the database itself: clinic() draws clinic ids
-- weighted by their number of pets (the data's own tenant skew), *_of(clinic)
-- draws ids of that clinic, pick() draws rows of the samples below.
--
-- Time: on a dbload dataset, now() and timestamp() follow the dataset's
-- clock (its data lies around 2026-12-01), so `:'now'` stands where SQL
-- would say now(): every run reads the same slice of the data (today's
-- calendar, the coming fortnight) whatever the date it runs on.

-- @workload vetclinic
-- @sample clinic_slugs = SELECT slug FROM clinics WHERE is_active
-- @sample logins = SELECT email FROM users WHERE is_active LIMIT 20000
-- @sample pet_prefixes = SELECT DISTINCT lower(left(name, 3)) FROM pets WHERE length(name) >= 3 LIMIT 2000
-- @sample name_parts = SELECT DISTINCT lower(substr(full_name, 2, 3)) FROM users WHERE length(full_name) >= 4 LIMIT 2000

-- @scenario dashboard_schedule weight=20
-- Today's calendar of a clinic: the first screen the staff sees.
-- @param clinic = clinic()
-- @param now = now()
SELECT a.id, a.starts_at, a.ends_at, a.status, p.name AS pet, p.species,
       o.full_name AS owner, v.full_name AS vet, s.name AS service
FROM appointments a
JOIN pets p ON p.id = a.pet_id
JOIN users o ON o.id = p.owner_id
JOIN users v ON v.id = a.vet_id
JOIN services s ON s.id = a.service_id
WHERE a.clinic_id = :clinic
  AND a.starts_at >= date_trunc('day', :'now'::timestamptz)
  AND a.starts_at < date_trunc('day', :'now'::timestamptz) + interval '1 day'
ORDER BY a.starts_at;

-- @scenario dashboard_summary weight=15
-- The dashboard's counters: this fortnight's appointments, open invoices,
-- new pets, diabetic patients.
-- @param clinic = clinic()
-- @param now = now()
-- @name appointment_counts
SELECT status, count(*)
FROM appointments
WHERE clinic_id = :clinic
  AND starts_at >= :'now'::timestamptz - interval '7 days'
  AND starts_at < :'now'::timestamptz + interval '7 days'
GROUP BY status;
-- @name open_invoices
SELECT count(*) AS open_invoices, coalesce(sum(total_cents), 0) AS open_cents
FROM invoices
WHERE clinic_id = :clinic AND status = 'open';
-- @name new_pets
SELECT count(*) FROM pets
WHERE clinic_id = :clinic AND created_at >= :'now'::timestamptz - interval '30 days';
-- @name diabetic_patients
-- The recall counter: living pets with a chronic condition (a jsonb filter).
SELECT count(*) FROM pets
WHERE clinic_id = :clinic AND deceased_at IS NULL AND traits @> '{"chronic": "diabetes"}';

-- @scenario availability weight=12
-- A vet's booked slots on a day in the next two weeks.
-- @param clinic = clinic()
-- @param vet = vet_of(clinic)
-- @param day = timestamp(+1d, +14d)
SELECT starts_at, ends_at
FROM appointments
WHERE clinic_id = :clinic AND vet_id = :vet
  AND starts_at >= date_trunc('day', :day::timestamptz)
  AND starts_at < date_trunc('day', :day::timestamptz) + interval '1 day'
  AND status IN ('scheduled', 'confirmed')
ORDER BY starts_at;

-- @scenario booking weight=8 transaction
-- Book an appointment: read the service, check the vet's calendar, insert.
-- @param clinic = clinic()
-- @param pet = pet_of(clinic)
-- @param vet = vet_of(clinic)
-- @param service = service_of(clinic)
-- @param start = timestamp(+1d, +30d)
-- @name read_service
-- @bind duration = duration_min
SELECT duration_min FROM services WHERE id = :service AND clinic_id = :clinic;
-- @name check_conflicts
SELECT count(*) AS conflicts
FROM appointments
WHERE clinic_id = :clinic AND vet_id = :vet
  AND status IN ('scheduled', 'confirmed')
  AND starts_at < :start::timestamptz + make_interval(mins => :duration)
  AND ends_at > :start::timestamptz;
-- @name insert_appointment
INSERT INTO appointments (clinic_id, pet_id, vet_id, service_id, starts_at, ends_at, status, reason)
VALUES (:clinic, :pet, :vet, :service, :start::timestamptz,
        :start::timestamptz + make_interval(mins => :duration), 'scheduled', 'booked online');

-- @scenario medical_records weight=10
-- A pet's records screen: visits with diagnoses, then prescriptions.
-- @param clinic = clinic()
-- @param pet = pet_of(clinic)
-- @name records
SELECT r.id, r.recorded_at, r.diagnosis, r.weight_kg, r.temperature_c, v.full_name AS vet
FROM medical_records r
JOIN users v ON v.id = r.vet_id
WHERE r.clinic_id = :clinic AND r.pet_id = :pet
ORDER BY r.recorded_at DESC
LIMIT 20;
-- @name prescriptions
SELECT drug_name, dosage, issued_at, expires_at, attachment_name
FROM prescriptions
WHERE clinic_id = :clinic AND pet_id = :pet
ORDER BY issued_at DESC
LIMIT 20;

-- @scenario service_listing weight=8
-- The public booking page of a clinic, by its URL slug.
-- @param slug = pick(clinic_slugs)
SELECT s.id, s.name, s.category, s.duration_min, s.price_cents
FROM services s
JOIN clinics c ON c.id = s.clinic_id
WHERE c.slug = :'slug' AND c.is_active AND s.is_public AND s.is_active
ORDER BY s.category, s.name;

-- @scenario search_pets weight=6
-- Search box: pets of the clinic by name prefix.
-- @param clinic = clinic()
-- @param prefix = pick(pet_prefixes)
SELECT p.id, p.name, p.species, o.full_name AS owner
FROM pets p
JOIN users o ON o.id = p.owner_id
WHERE p.clinic_id = :clinic AND lower(p.name) LIKE :'prefix' || '%'
ORDER BY p.name
LIMIT 20;

-- @scenario search_owners weight=3
-- Search box: owners of the clinic whose name contains the text typed
-- (anywhere in the name, any case: ILIKE '%…%', which no btree serves).
-- @param clinic = clinic()
-- @param term = pick(name_parts)
SELECT id, full_name, email, phone
FROM users
WHERE clinic_id = :clinic AND role = 'owner' AND full_name ILIKE '%' || :'term' || '%'
ORDER BY full_name
LIMIT 20;

-- @scenario login weight=7 transaction
-- Log in by email: read the user, open a session, stamp the login time.
-- @param email = pick(logins)
-- @param session = uuid()
-- @param now = now()
-- @param agent = choice('Mozilla/5.0 (Windows NT 10.0; Win64)':5, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14)':3, 'VetApp/2.3 (iOS 17)':2)
-- @name find_user
-- @bind user_id = id
SELECT id, password_hash, role, clinic_id FROM users WHERE email = :'email' AND is_active;
-- @name open_session
INSERT INTO user_sessions (id, user_id, created_at, expires_at, user_agent)
VALUES (:session, :user_id, :'now'::timestamptz, :'now'::timestamptz + interval '30 days', :'agent');
-- @name stamp_login
UPDATE users SET last_login_at = :'now'::timestamptz WHERE id = :user_id;

-- @scenario checkout weight=4 transaction
-- Cart checkout: read the cart's services, insert the invoice, insert its items.
-- @param clinic = clinic()
-- @param owner = owner_of(clinic)
-- @param s1 = service_of(clinic)
-- @param s2 = service_of(clinic)
-- @param number = uuid()
-- @param now = now()
-- @name read_cart
-- @bind total = total_cents
SELECT count(*) AS items, coalesce(sum(price_cents), 0)::bigint AS total_cents
FROM services
WHERE clinic_id = :clinic AND id IN (:s1, :s2) AND is_active;
-- @name insert_invoice
-- @bind invoice = id
INSERT INTO invoices (clinic_id, owner_id, number, status, total_cents, issued_at, due_at)
VALUES (:clinic, :owner, 'INV-' || :'number', 'open', :total, :'now'::timestamptz, :'now'::timestamptz + interval '30 days')
RETURNING id;
-- @name insert_items
INSERT INTO invoice_items (clinic_id, invoice_id, service_id, description, quantity, unit_price_cents)
SELECT clinic_id, :invoice::bigint, id, name, 1, price_cents
FROM services
WHERE clinic_id = :clinic AND id IN (:s1, :s2);

-- @scenario prescription_upload weight=4
-- A vet uploads a signed prescription (the file goes to object storage; the row keeps its metadata).
-- @param clinic = clinic()
-- @param pet = pet_of(clinic)
-- @param vet = vet_of(clinic)
-- @param drug = choice('Amoxicillin', 'Meloxicam', 'Gabapentin', 'Prednisolone', 'Oclacitinib', 'Cefalexin')
-- @param key = uuid()
-- @param size = int(20000, 5000000)
-- @param kind = choice('application/pdf':6, 'image/jpeg':3, 'image/png':1)
-- @param now = now()
INSERT INTO prescriptions (clinic_id, pet_id, vet_id, drug_name, dosage, instructions, issued_at, expires_at,
                           attachment_name, attachment_content_type, attachment_size_bytes,
                           attachment_sha256, attachment_key)
VALUES (:clinic, :pet, :vet, :'drug', '1 tablet twice daily', 'Give with food.', :'now'::timestamptz, :'now'::timestamptz + interval '90 days',
        'prescription-' || :'key' || '.pdf', :'kind', :size,
        encode(sha256(convert_to(:'key', 'UTF8')), 'hex'), 'rx/' || :'key');

-- @scenario my_pets weight=3
-- An owner's "my pets" page with each pet's last visit.
-- @param clinic = clinic()
-- @param owner = owner_of(clinic)
-- @param now = now()
SELECT p.id, p.name, p.species, p.breed, p.birth_date,
       (SELECT max(a.starts_at) FROM appointments a WHERE a.pet_id = p.id AND a.starts_at < :'now'::timestamptz) AS last_visit
FROM pets p
WHERE p.owner_id = :owner
ORDER BY p.name;
