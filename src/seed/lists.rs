//! Curated vocabularies for the vet-clinic domain (people's names, cities and
//! phone formats come from the `fake` crate's English locale). Weights are
//! relative integers.

/// (weight, species, breeds) — weights give dogs 45 %, cats 35 %.
/// (species, breeds).
pub type Species = (&'static str, &'static [&'static str]);

pub const SPECIES: &[(u32, Species)] = &[
    (
        45,
        (
            "dog",
            &[
                "Labrador Retriever",
                "German Shepherd",
                "Golden Retriever",
                "French Bulldog",
                "Bulldog",
                "Poodle",
                "Beagle",
                "Rottweiler",
                "Dachshund",
                "Yorkshire Terrier",
                "Boxer",
                "Border Collie",
                "Siberian Husky",
                "Cavalier King Charles Spaniel",
                "Shih Tzu",
                "Chihuahua",
                "Australian Shepherd",
                "Jack Russell Terrier",
                "Cocker Spaniel",
                "Great Dane",
                "Pug",
                "Bernese Mountain Dog",
                "Staffordshire Bull Terrier",
                "Whippet",
            ],
        ),
    ),
    (
        35,
        (
            "cat",
            &[
                "Domestic Shorthair",
                "Domestic Longhair",
                "Maine Coon",
                "Siamese",
                "Persian",
                "Ragdoll",
                "Bengal",
                "British Shorthair",
                "Sphynx",
                "Abyssinian",
                "Norwegian Forest Cat",
                "Scottish Fold",
                "Russian Blue",
            ],
        ),
    ),
    (
        5,
        (
            "rabbit",
            &[
                "Holland Lop",
                "Netherland Dwarf",
                "Mini Rex",
                "Lionhead",
                "Flemish Giant",
                "Dutch",
            ],
        ),
    ),
    (
        4,
        (
            "bird",
            &[
                "Budgerigar",
                "Cockatiel",
                "African Grey",
                "Lovebird",
                "Canary",
                "Cockatoo",
                "Macaw",
            ],
        ),
    ),
    (
        3,
        (
            "reptile",
            &[
                "Bearded Dragon",
                "Leopard Gecko",
                "Ball Python",
                "Corn Snake",
                "Red-eared Slider",
                "Crested Gecko",
            ],
        ),
    ),
    (
        5,
        (
            "rodent",
            &[
                "Guinea Pig",
                "Syrian Hamster",
                "Dwarf Hamster",
                "Fancy Rat",
                "Chinchilla",
                "Gerbil",
            ],
        ),
    ),
    (
        1,
        (
            "horse",
            &[
                "Quarter Horse",
                "Thoroughbred",
                "Arabian",
                "Appaloosa",
                "Shetland Pony",
                "Friesian",
            ],
        ),
    ),
    (
        2,
        (
            "other",
            &["Ferret", "Hedgehog", "Axolotl", "Pot-bellied Pig"],
        ),
    ),
];

/// Typical adult weight range in centi-kilograms and lifespan in years.
pub fn species_body(species: &str) -> (i64, i64, i64) {
    match species {
        "dog" => (250, 6000, 14),
        "cat" => (250, 800, 16),
        "rabbit" => (100, 600, 9),
        "bird" => (3, 150, 15),
        "reptile" => (5, 2000, 15),
        "rodent" => (3, 120, 4),
        "horse" => (25000, 90000, 28),
        _ => (10, 1000, 8),
    }
}

/// Allergies recorded in a pet's `traits`.
pub const ALLERGIES: &[&str] = &[
    "penicillin",
    "chicken",
    "beef",
    "grass pollen",
    "flea saliva",
    "dust mites",
    "NSAIDs",
];

/// Chronic conditions recorded in a pet's `traits`.
pub const CHRONIC: &[&str] = &[
    "diabetes",
    "arthritis",
    "kidney disease",
    "epilepsy",
    "hypothyroidism",
    "heart murmur",
];

pub const PET_NAMES: &[&str] = &[
    "Bella",
    "Luna",
    "Charlie",
    "Max",
    "Lucy",
    "Cooper",
    "Daisy",
    "Milo",
    "Bailey",
    "Rocky",
    "Lola",
    "Buddy",
    "Sadie",
    "Teddy",
    "Molly",
    "Bear",
    "Stella",
    "Leo",
    "Maggie",
    "Duke",
    "Chloe",
    "Tucker",
    "Penny",
    "Oliver",
    "Zoe",
    "Jack",
    "Nala",
    "Winston",
    "Ruby",
    "Bentley",
    "Rosie",
    "Zeus",
    "Coco",
    "Loki",
    "Gracie",
    "Murphy",
    "Lily",
    "Toby",
    "Pepper",
    "Oscar",
    "Ellie",
    "Louie",
    "Willow",
    "Finn",
    "Piper",
    "Gus",
    "Roxy",
    "Simba",
    "Mia",
    "Jax",
    "Sophie",
    "Ollie",
    "Hazel",
    "Bruno",
    "Ginger",
    "Apollo",
    "Olive",
    "Thor",
    "Millie",
    "Koda",
    "Abby",
    "Kobe",
    "Cleo",
    "Ziggy",
    "Honey",
    "Rex",
    "Marley",
    "Biscuit",
    "Shadow",
    "Tiger",
    "Smokey",
    "Oreo",
    "Mittens",
    "Pumpkin",
    "Peanut",
    "Nugget",
    "Kiwi",
    "Mango",
    "Pickles",
    "Waffles",
    "Sunny",
    "Blue",
    "Sky",
    "Pip",
    "Thumper",
    "Hopper",
    "Spike",
    "Noodle",
    "Fig",
    "Basil",
    "Juniper",
    "Maple",
    "Pretzel",
    "Socks",
    "Boots",
    "Misty",
    "Felix",
    "Simon",
    "Poppy",
    "Tilly",
    "Archie",
    "Frankie",
    "Hank",
    "Moose",
    "Remy",
    "Scout",
    "Sasha",
    "Storm",
    "Clover",
    "Buttercup",
];

/// The service catalog every clinic offers, with its own prices:
/// (appointment weight, (name, category, minutes, base price in cents)).
/// (name, category, minutes, base price in cents).
pub type Service = (&'static str, &'static str, i32, i64);

pub const SERVICES: &[(u32, Service)] = &[
    (30, ("General consultation", "consultation", 20, 6500)),
    (10, ("Follow-up consultation", "consultation", 15, 4000)),
    (4, ("Emergency consultation", "consultation", 30, 15000)),
    (14, ("Annual vaccination", "vaccination", 15, 7500)),
    (
        5,
        ("Puppy/kitten vaccination course", "vaccination", 20, 9000),
    ),
    (3, ("Rabies vaccination", "vaccination", 10, 3500)),
    (3, ("Spay", "surgery", 90, 45000)),
    (3, ("Neuter", "surgery", 60, 32000)),
    (1, ("Soft tissue surgery", "surgery", 120, 120000)),
    (4, ("Dental cleaning", "dental", 60, 35000)),
    (1, ("Tooth extraction", "dental", 45, 25000)),
    (3, ("Grooming - full", "grooming", 90, 8000)),
    (4, ("Nail trim", "grooming", 10, 2000)),
    (3, ("X-ray", "imaging", 30, 18000)),
    (2, ("Ultrasound", "imaging", 45, 30000)),
    (5, ("Blood panel", "lab", 15, 12000)),
    (2, ("Urinalysis", "lab", 10, 5500)),
    (2, ("Overnight boarding", "boarding", 480, 5500)),
    (1, ("Microchipping", "other", 10, 4500)),
    (1, ("Behaviour consultation", "other", 45, 9500)),
];

/// Items sold besides services: (description, price in cents).
pub const PRODUCTS: &[(&str, i64)] = &[
    ("Carprofen 75 mg, 14 tablets", 3200),
    ("Meloxicam oral suspension 10 ml", 2400),
    ("Amoxicillin-clavulanate 250 mg, 10 tablets", 2800),
    ("Flea and tick treatment, 3 months", 5400),
    ("Deworming tablet", 1200),
    ("Prescription diet, 2 kg", 3900),
    ("E-collar", 1800),
    ("Ear cleaning solution", 1500),
    ("Bandage and dressing", 2200),
    ("Medical waste disposal fee", 500),
    ("Sedation", 6500),
    ("Hospitalisation, per day", 9500),
    ("Dental chews, 30 pack", 2600),
    ("Eye drops 5 ml", 1900),
];

pub const REASONS: &[&str] = &[
    "Annual check-up",
    "Vaccination due",
    "Limping on front leg",
    "Not eating well",
    "Vomiting since yesterday",
    "Diarrhoea",
    "Itchy skin and scratching",
    "Ear infection suspected",
    "Lump found on belly",
    "Weight loss",
    "Coughing",
    "Post-surgery check",
    "Dental check",
    "Eye discharge",
    "Lethargy",
    "Nail trim and grooming",
    "Second opinion",
    "Behaviour problems",
    "Senior wellness exam",
    "Pre-travel health certificate",
];

pub const DIAGNOSES: &[&str] = &[
    "Healthy, no abnormalities found",
    "Otitis externa",
    "Atopic dermatitis",
    "Flea allergy dermatitis",
    "Acute gastroenteritis",
    "Periodontal disease grade 2",
    "Osteoarthritis",
    "Cranial cruciate ligament rupture",
    "Obesity",
    "Chronic kidney disease stage 2",
    "Hyperthyroidism",
    "Diabetes mellitus",
    "Urinary tract infection",
    "Conjunctivitis",
    "Kennel cough",
    "Soft tissue injury",
    "Lipoma",
    "Intestinal parasites",
    "Dental abscess",
    "Heart murmur grade 2/6",
    "Allergic reaction",
    "Anal gland impaction",
];

pub const NOTE_FINDINGS: &[&str] = &[
    "Owner reports reduced appetite for three days.",
    "Bright, alert and responsive.",
    "Mild dehydration on examination.",
    "Pain on palpation of the abdomen.",
    "Coat in good condition, body condition score 5/9.",
    "Tartar build-up on upper premolars.",
    "Redness in both ear canals.",
    "Slight lameness on the left hind leg.",
    "Heart and lungs auscultate normally.",
    "Weight up since last visit.",
];

pub const NOTE_PLANS: &[&str] = &[
    "Recheck in two weeks.",
    "Advised bland diet for 48 hours.",
    "Blood work sent to the lab.",
    "Discussed weight management with the owner.",
    "Start medication as prescribed.",
    "Schedule dental cleaning.",
    "Call if symptoms persist.",
    "No further treatment needed.",
];

/// (drug, dosage).
pub const DRUGS: &[(&str, &str)] = &[
    ("Amoxicillin-clavulanate", "12.5 mg/kg PO q12h"),
    ("Carprofen", "4.4 mg/kg PO q24h"),
    ("Meloxicam", "0.1 mg/kg PO q24h"),
    ("Gabapentin", "10 mg/kg PO q8h"),
    ("Maropitant", "2 mg/kg PO q24h"),
    ("Metronidazole", "15 mg/kg PO q12h"),
    ("Prednisolone", "0.5 mg/kg PO q24h"),
    ("Apoquel (oclacitinib)", "0.4 mg/kg PO q12h"),
    ("Methimazole", "2.5 mg PO q12h"),
    ("Insulin glargine", "0.25 U/kg SC q12h"),
    ("Doxycycline", "5 mg/kg PO q12h"),
    ("Cephalexin", "22 mg/kg PO q12h"),
    ("Enalapril", "0.5 mg/kg PO q24h"),
    ("Furosemide", "2 mg/kg PO q12h"),
    ("Fenbendazole", "50 mg/kg PO q24h for 3 days"),
    ("Otomax ear ointment", "4 drops in affected ear q12h"),
];

pub const INSTRUCTIONS: &[&str] = &[
    "Give with food.",
    "Finish the whole course even if symptoms improve.",
    "Do not give on an empty stomach.",
    "Stop and call the clinic if vomiting occurs.",
    "Store in the refrigerator.",
    "Wear gloves when applying.",
];

/// (weight, (country code, time zones)).
/// (country code, time zones).
pub type Country = (&'static str, &'static [&'static str]);

pub const COUNTRIES: &[(u32, Country)] = &[
    (
        55,
        (
            "US",
            &[
                "America/New_York",
                "America/Chicago",
                "America/Denver",
                "America/Los_Angeles",
            ],
        ),
    ),
    (
        10,
        (
            "CA",
            &["America/Toronto", "America/Vancouver", "America/Edmonton"],
        ),
    ),
    (12, ("GB", &["Europe/London"])),
    (
        8,
        (
            "AU",
            &["Australia/Sydney", "Australia/Melbourne", "Australia/Perth"],
        ),
    ),
    (5, ("DE", &["Europe/Berlin"])),
    (5, ("FR", &["Europe/Paris"])),
    (3, ("NL", &["Europe/Amsterdam"])),
    (2, ("IE", &["Europe/Dublin"])),
];

pub const CHAINS: &[&str] = &[
    "VetPartners",
    "PetCare Alliance",
    "Banfield Group",
    "BluePearl Network",
    "Medivet Group",
    "AnimalWell Partners",
    "Greencross Vets",
    "CareVet Collective",
    "PawsFirst Holdings",
    "National Veterinary Associates",
    "Thrive Pet Healthcare",
    "IVC Evidensia",
];

pub const REGIONAL_GROUPS: &[&str] = &[
    "Riverside Vet Group",
    "Coastal Animal Hospitals",
    "Valley Pet Clinics",
    "Northern Paws",
    "Lakeside Veterinary Partners",
    "Metro Animal Care",
];

/// Clinic name patterns: `{c}` city, `{n}` last name.
pub const CLINIC_PATTERNS: &[&str] = &[
    "{c} Veterinary Clinic",
    "{n} Animal Hospital",
    "{c} Pet Care",
    "{n} & Partners Veterinary Surgery",
    "Happy Paws {c}",
    "{c} Animal Medical Center",
    "{n} Vets",
    "{c} Cat & Dog Clinic",
];

pub const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "proton.me",
];
