"""Deterministic synthetic randomuser.me v1.4 users in the API's exact JSON shape, no network.

Like the API, a page is its own sequence of a (seed, page, nationalities) triple: random.Random
hashes the string with SHA-512 (unlike hash(), salted per process), so a re-run of a partition
sees identical users, and a short page is a prefix of the full one. Ages are computed against
the seed's day, not today, or a backfill would drift year by year."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from assets.core.memory import gc_paused
from orchestration.resources.randomuser.pages import UserCall

# nat: country | id name (""=none) | id format ("" -> value null) | postcode format | int postcode?
#      | phone | cell | male first | female first | last | cities | states | streets
# "#" is a digit, "@" an upper-case letter (FI's "NaNNA###undefined" is the API's own bug).
# "native~latin" names are transliterated for e-mails, as the API does for Persian and Cyrillic.
NATIONALITIES = {
    "AU": (
        "Australia|TFN|#########|####|1|##-####-####|####-###-###"
        "|Liam,Noah,Jack|Chloe,Ruby,Isla|Smith,Wilson,Taylor"
        "|Sydney,Perth,Hobart|New South Wales,Western Australia,Tasmania|George St,Bay Ave,Queen St"
    ),
    "BR": (
        "Brazil|CPF|###.###.###-##|########|1|(##) ####-####|(##) #####-####"
        "|João,Rafael,Otávio|Luíza,Lívia,Maitê|Araújo,Gonçalves,Sá"
        "|São Paulo,Belém,Maringá|Paraná,Pará,Ceará|Rua Três,Rua São Luiz,Avenida Brasil"
    ),
    "CA": (
        "Canada|SIN|#########|@#@ #@#|0|@## @##-####|@## @##-####"
        "|Liam,Mathis,Noah|Chloé,Léa,Emma|Tremblay,Gagnon,Roy"
        "|Montréal,Calgary,Aylmer|Québec,Alberta,Yukon|Pine Rd,Dufferin St,Rue Principale"
    ),
    "CH": (
        "Switzerland|AVS|756.####.####.##|####|1|0## ### ## ##|07# ### ## ##"
        "|Noël,Jérôme,Luca|Zoé,Léonie,Anaïs|Müller,Fournier,Girard"
        "|Genève,Zürich,Lausanne|Genève,Zürich,Vaud|Rue du Bât-d'Argent,Place de L'Abbé-Georges-Hénocque,Rue Dumenge"
    ),
    "DE": (
        "Germany|SVNR|## ###### @ ###|#####|1|0###-#######|017#-#######"
        "|Jürgen,Björn,Lukas|Jördis,Sophie,Käthe|Müller,Schäfer,Weiß"
        "|Köln,München,Lübeck|Nordrhein-Westfalen,Bayern,Schleswig-Holstein|Schloßstraße,Mühlenweg,Bahnhofstraße"
    ),
    "DK": (
        "Denmark|CPR|######-####|####|1|########|########"
        "|Mikkel,Søren,Asger|Åse,Freja,Ida|Nørgaard,Sørensen,Jørgensen"
        "|København,Århus,Odense|Hovedstaden,Midtjylland,Syddanmark|Søndergade,Vesterbrogade,Østergade"
    ),
    "ES": (
        "Spain|DNI|########-@|#####|1|9##-###-###|6##-###-###"
        "|José,Íñigo,Álvaro|María,Inés,Lucía|García,Núñez,Muñoz"
        "|Málaga,Córdoba,Madrid|Andalucía,Galicia,Madrid|Calle de Alcalá,Avenida de Andalucía,Calle Mayor"
    ),
    "FI": (
        "Finland|HETU|NaNNA###undefined|#####|1|0#-###-###|04#-###-##-##"
        "|Väinö,Eemil,Onni|Aino,Siiri,Lotta|Mäkinen,Heikkinen,Kärkkäinen"
        "|Hämeenlinna,Jyväskylä,Oulu|Kanta-Häme,Keski-Suomi,Lappi|Hämeenkatu,Pispalan Valtatie,Tehtaankatu"
    ),
    "FR": (
        "France|INSEE|##############|#####|1|0#-##-##-##-##|06-##-##-##-##"
        "|Théo,Loïc,Gaël|Maëlle,Léa,Inès|Lefèvre,Girard,Dupont"
        "|Besançon,Nîmes,Orléans|Bretagne,Occitanie,Centre|Rue de l'Abbé-Grégoire,Place du 8 Février 1962,Rue Bert"
    ),
    "GB": (
        "United Kingdom|NINO|@@ ## ## ## @|@@## #@@|0|0#### ######|07### ######"
        "|Oliver,Harry,George|Amelia,Olivia,Isla|Smith,O'Brien,Jones"
        "|London,Leeds,St Davids|Greater London,West Yorkshire,Dyfed|High Street,Mill Lane,Church Road"
    ),
    "IE": (
        "Ireland|PPS|#######@|#####|1|0#1-###-####|08#-###-####"
        "|Seán,Cillian,Oisín|Aoife,Siobhán,Niamh|Ó Súilleabháin,Murphy,Byrne"
        "|Dublin,Galway,Tralee|Leinster,Connacht,Munster|Main Street,Grafton Street,Church Road"
    ),
    "IN": (
        "India|UIDAI|############|######|1|#########|#########"
        "|Aarav,Vihaan,Arjun|Ananya,Diya,Saanvi|Sharma,Patel,Reddy"
        "|Mumbai,Pune,Kochi|Maharashtra,Kerala,Gujarat|MG Road,Station Road,Nehru Nagar"
    ),
    "IR": (
        "Iran|||##########|1|0##-########|09##-###-####"
        "|محمدطاها~mhmdth,امیرحسین~amyrhsyn,علی~aly|زهرا~zhra,نرگس~nrgs,فاطمه~fatmh|یاسمی~ysmy,احمدی~ahmdy,کریمی~krymy"
        "|تهران,اصفهان,مشهد|تهران,اصفهان,خراسان رضوی|میدان انقلاب,شهید بهشتی,آزادی"
    ),
    "MX": (
        "Mexico|NSS|## ## ## ####|#####|1|(6##) ### ####|(6##) ### ####"
        "|Santiago,Mateo,Emiliano|Ximena,Valentina,Renata|Hernández,López,Martínez"
        "|Mérida,Cancún,Querétaro|Yucatán,Quintana Roo,Querétaro|Callejón Guerrero,Avenida Juárez,Calle Zaragoza"
    ),
    "NL": (
        "Netherlands|BSN|########|#### @@|0|(0##) #######|(06) ########"
        "|Atilla,Stefanus,Daan|Femke,Sanne,Noëlle|de Vries,Bennink,van der Berg"
        "|Aalsmeerderbrug,Vianen,Den Haag|Flevoland,Drenthe,Zuid-Holland|Hoveniersdreef,Heerseweg,Kerkstraat"
    ),
    "NO": (
        "Norway|FN|###########|####|0|########|9#######"
        "|Håkon,Øystein,Bjørn|Åse,Ingrid,Sølvi|Nørgaard,Håland,Aasen"
        "|Oslo,Tromsø,Bodø|Oslo,Troms,Nordland|Kirkegata,Storgata,Øvre Slottsgate"
    ),
    "NZ": (
        "New Zealand|||####|1|(###)-###-####|(###)-###-####"
        "|Liam,Jack,Nikau|Charlotte,Aroha,Isla|Wilson,Ngata,Walker"
        "|Auckland,Whanganui,Tauranga|Auckland,Manawatu-Wanganui,Bay of Plenty|Kings Road,Moray Place,Cuba Street"
    ),
    "RS": (
        "Serbia|SID|#########|#####|1|0##-####-###|06#-####-###"
        "|Đorđe,Nikola,Miloš|Jelena,Milica,Anđela|Jovanović,Milić,Đukić"
        "|Beograd,Niš,Čačak|Centralna Srbija,Vojvodina,Zlatiborski|Kneza Miloša,Bulevar Oslobođenja,Čučuk Stanina"
    ),
    "TR": (
        "Turkey|||#####|1|(###)-###-####|(###)-###-####"
        "|Ömer,Çağan,Mustafa|Ayşe,Özlem,Gülşen|Çelik,Öztürk,Yıldız"
        "|İstanbul,Şanlıurfa,Kırıkkale|İstanbul,Şanlıurfa,Kırıkkale|Atatürk Sk,Doktorlar Cd,Şehitler Cd"
    ),
    "UA": (
        "Ukraine|||#####|1|(0##) ###-####|(09#) ###-####"
        "|Ярослав~yaroslav,Богдан~bogdan,Тарас~taras|Олена~olena,Оксана~oksana,Ірина~irina"
        "|Петренко~petrenko,Шевченко~shevchenko,Коваленко~kovalenko"
        "|Київ,Львів,Вінниця|Київська,Львівська,Вінницька|Хрещатик,Шевченка,Бандери"
    ),
    "US": (
        "United States|SSN|###-##-####|#####|1|(###) ###-####|(###) ###-####"
        "|Ethan,Dwayne,Jesús|Diane,Ava,Brianna|Stewart,Wright,Peña"
        "|Atlanta,Fresno,Rochester|Pennsylvania,California,New York|Valley View Ln,Pecan Acres Ln,Homestead Rd"
    ),
}
TIMEZONES = [
    ("-12:00", "Eniwetok, Kwajalein"),
    ("-11:00", "Midway Island, Samoa"),
    ("-10:00", "Hawaii"),
    ("-9:00", "Alaska"),
    ("-8:00", "Pacific Time (US & Canada)"),
    ("-7:00", "Mountain Time (US & Canada)"),
    ("-6:00", "Central Time (US & Canada), Mexico City"),
    ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-4:00", "Atlantic Time (Canada), Caracas, La Paz"),
    ("-3:30", "Newfoundland"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("-2:00", "Mid-Atlantic"),
    ("-1:00", "Azores, Cape Verde Islands"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    ("+2:00", "Kaliningrad, South Africa"),
    ("+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"),
    ("+3:30", "Tehran"),
    ("+4:00", "Abu Dhabi, Muscat, Baku, Tbilisi"),
    ("+4:30", "Kabul"),
    ("+5:00", "Ekaterinburg, Islamabad, Karachi, Tashkent"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"),
    ("+5:45", "Kathmandu"),
    ("+6:00", "Almaty, Dhaka, Colombo"),
    ("+7:00", "Bangkok, Hanoi, Jakarta"),
    ("+8:00", "Beijing, Perth, Singapore, Hong Kong"),
    ("+9:00", "Tokyo, Seoul, Osaka, Sapporo, Yakutsk"),
    ("+9:30", "Adelaide, Darwin"),
    ("+10:00", "Eastern Australia, Guam, Vladivostok"),
    ("+11:00", "Magadan, Solomon Islands, New Caledonia"),
    ("+12:00", "Auckland, Wellington, Fiji, Kamchatka"),
]
ADJECTIVES = (
    "big small tiny happy sad lazy crazy silver golden blue red green purple orange yellow black white brown "
    "heavy organic beautiful ticklish"
).split()
ANIMALS = (
    "bird bear cat dog duck elephant fish frog goose gorilla koala ladybug leopard lion monkey mouse panda "
    "peacock rabbit snake swan tiger wolf zebra butterfly meercat"
).split()
PASSWORDS = "lekker elvis1 password 1234 qwerty sunshine dragon letmein trustno1 monkey pepper hunter 00000".split()
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BAD_KINDS = ("missing_dob", "invalid_uuid")
EPOCH = datetime(1970, 1, 1)
MS_PER_YEAR = 365.25 * 86_400_000


class SampleRandomUserClient:
    mode = "sample"

    def __init__(self, *, nationalities: Sequence[str] = (), bad_row_ratio: float = 0.0):
        codes = [code.strip().upper() for code in nationalities if code.strip()] or sorted(NATIONALITIES)
        unknown = sorted(set(codes) - set(NATIONALITIES))
        if unknown:
            raise ValueError(f"unknown nationalities {unknown}: randomuser 1.4 has {sorted(NATIONALITIES)}")
        self._nats = [(code, _NAT_TABLE[code]) for code in codes]
        self._nat_key = ",".join(codes)
        self._ratio = bad_row_ratio

    def fetch_page(self, seed: str, call: UserCall, day: date | None = None) -> list[dict]:
        """`call.results` users of page `call.page` of `seed`; `day` (default: the one the seed
        ends with) is the request time: it bounds the dates and sets the ages."""
        day = day or date.fromisoformat(seed[-10:])
        rng = random.Random(f"{seed}|{call.page}|{self._nat_key}")
        today = datetime(day.year, day.month, day.day)
        dob_range = (_ms(datetime(1945, 1, 1)), _ms(today) - 21 * MS_PER_YEAR)
        registered_range = (_ms(datetime(2002, 1, 1)), _ms(today))
        with gc_paused():
            return [self._user(rng, day, dob_range, registered_range) for _ in range(call.results)]

    def _user(self, rng: random.Random, day: date, dob_range, registered_range) -> dict:
        rand = rng.random

        def pick(options):  # rng.choice costs two Python calls more; this is the hot loop
            return options[int(rand() * len(options))]

        nat, t = pick(self._nats)
        male = rand() < 0.5
        (first, first_latin), (last, last_latin) = pick(t["male" if male else "female"]), pick(t["last"])
        title = pick(t["titles_male"] if male else t["titles_female"])
        password, salt = pick(PASSWORDS), "".join(rng.choices(ALPHANUMERIC, k=8))
        secret = (password + salt).encode()
        bits = f"{rng.getrandbits(128):032x}"
        uuid = f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{'89ab'[int(bits[16], 16) & 3]}{bits[17:20]}-{bits[20:]}"
        postcode = _fill(rand, t["postcode"])
        offset, description = pick(TIMEZONES)
        portrait = f"{'men' if male else 'women'}/{int(rand() * 100)}.jpg"
        user = {
            "gender": "male" if male else "female",
            "name": {"title": title, "first": first, "last": last},
            "location": {
                "street": {"number": 1 + int(rand() * 9999), "name": pick(t["streets"])},
                "city": pick(t["cities"]),
                "state": pick(t["states"]),
                "country": t["country"],
                # The API's own quirk: postcodes arrive as JSON numbers for most countries (a
                # leading zero lost) but as strings for others, Norway's "0376" zeros kept.
                "postcode": int(postcode) if t["int_postcode"] else postcode,
                "coordinates": {"latitude": f"{rand() * 180 - 90:.4f}", "longitude": f"{rand() * 360 - 180:.4f}"},
                "timezone": {"offset": offset, "description": description},
            },
            "email": f"{first_latin}.{last_latin}@example.com".replace(" ", ""),
            "login": {
                "uuid": uuid,
                "username": f"{pick(ADJECTIVES)}{pick(ANIMALS)}{100 + int(rand() * 900)}",
                "password": password,
                "salt": salt,
                "md5": hashlib.md5(secret).hexdigest(),
                "sha1": hashlib.sha1(secret).hexdigest(),
                "sha256": hashlib.sha256(secret).hexdigest(),
            },
            "dob": _dated(rng, dob_range, day),
            "registered": _dated(rng, registered_range, day),
            "phone": _fill(rand, t["phone"]),
            "cell": _fill(rand, t["cell"]),
            "id": {"name": t["id_name"], "value": _fill(rand, t["id"]) if t["id"] else None},
            "picture": {
                "large": f"https://randomuser.me/api/portraits/{portrait}",
                "medium": f"https://randomuser.me/api/portraits/med/{portrait}",
                "thumbnail": f"https://randomuser.me/api/portraits/thumb/{portrait}",
            },
            "nat": nat,
        }
        u = rand()  # drawn for every user, so the ratio changes which users are bad, not the others
        if u < self._ratio:
            kind = BAD_KINDS[int(u / self._ratio * len(BAD_KINDS))]
            if kind == "missing_dob":
                del user["dob"]
            else:
                user["login"]["uuid"] = uuid[:-13] + "not-a-uuid"
        return user


def _ms(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds() * 1000


def _dated(rng: random.Random, bounds: tuple[float, float], day: date) -> dict:
    low, high = bounds
    moment = EPOCH + timedelta(milliseconds=int(low + rng.random() * (high - low)))
    age = day.year - moment.year - ((day.month, day.day) < (moment.month, moment.day))
    return {"date": moment.isoformat(timespec="milliseconds") + "Z", "age": age}


def _compile(pattern: str) -> list:
    """A "#"/"@" format as (kind, length, scale) runs, kind "" for a literal, filled by _fill."""
    return [
        ("#", len(p), 10 ** len(p)) if p[0] == "#" else ("@", len(p), 26) if p[0] == "@" else ("", p, 0)
        for p in re.findall(r"#+|@+|[^#@]+", pattern)
    ]


def _fill(rand, parts: list) -> str:
    out = []
    for kind, size, scale in parts:
        if not kind:
            out.append(size)
        elif kind == "#":
            out.append(f"{int(rand() * scale):0{size}d}")
        else:
            out.append("".join([chr(65 + int(rand() * 26)) for _ in range(size)]))
    return "".join(out)


def _names(field: str) -> list[tuple[str, str]]:
    return [(name.split("~")[0], name.split("~")[-1].lower()) for name in field.split(",")]


def _table(code: str, row: str) -> dict:
    (country, id_name, id_format, postcode, int_postcode, phone, cell, male, female, last, cities, states, streets) = (
        row.split("|")
    )
    swiss = code == "CH"  # the API titles Swiss users in French
    return {
        "country": country,
        "id_name": id_name,
        "id": _compile(id_format) if id_format else None,
        "postcode": _compile(postcode),
        "int_postcode": int_postcode == "1",
        "phone": _compile(phone),
        "cell": _compile(cell),
        "male": _names(male),
        "female": _names(female),
        "last": _names(last),
        "cities": cities.split(","),
        "states": states.split(","),
        "streets": streets.split(","),
        "titles_male": ["Monsieur"] if swiss else ["Mr"],
        "titles_female": ["Madame", "Mademoiselle"] if swiss else ["Ms", "Mrs", "Miss"],
    }


_NAT_TABLE = {code: _table(code, row) for code, row in NATIONALITIES.items()}
