-- Pet care traits, version 3: a jsonb document per pet, for the
-- workload's jsonb filters (and for `dbload analyze` to consider GIN).
--
--   {"allergies": ["penicillin", "chicken"], "chronic": "diabetes", "indoor": true}
--
-- Every key is optional; `{}` when nothing is known. `dbload seed`
-- generates it deterministically; no index on it on purpose.

ALTER TABLE pets ADD COLUMN traits jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(traits) = 'object');
