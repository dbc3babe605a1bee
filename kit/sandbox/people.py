"""Realistic, repeatable LinkedIn-like data for the sandbox (the same slug and seed, the same person)."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

FIRST = ["Ana", "Ben", "Chloé", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kavya", "Liam", "Maya", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Samir", "Tara",
         "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Marta", "Tomás", "Aisha", "Lars"]
LAST = ["Almeida", "Becker", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
        "Jansen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi",
        "Singh", "Tanaka", "Ueda", "Varga", "Wang", "Yilmaz", "Zhou", "Novak", "Costa", "Ahmed"]
COMPANIES = ["Microsoft", "Google", "Siemens", "Novartis", "Spotify", "Shopify", "SAP", "Airbus",
             "Stripe", "Unilever", "Doctors Without Borders", "World Bank", "Deloitte", "Pfizer",
             "Nestlé", "Ørsted", "Mistral AI", "DeepL", "Wellcome Trust", "CERN", "Zalando"]
TITLES = ["Data Scientist", "Senior Software Engineer", "Product Manager", "Research Fellow",
          "Head of Growth", "Machine Learning Engineer", "Policy Analyst", "Chief of Staff",
          "UX Researcher", "VP Engineering", "Economist", "Founder", "Partner", "Analyst"]
SCHOOLS = ["University of Oxford", "ETH Zürich", "Sciences Po", "MIT", "Stanford University",
           "TU München", "University of Tokyo", "IIT Bombay", "Universidad de Buenos Aires",
           "University of Cape Town", "KU Leuven", "McGill University", "Seoul National University"]
DEGREES = ["BSc Computer Science", "MSc Economics", "PhD Physics", "MBA", "BA Political Science",
           "MSc Statistics", "MA International Relations", "BEng Mechanical Engineering"]
SKILLS = ["Python", "SQL", "Machine Learning", "Public Speaking", "Leadership", "Data Analysis",
          "Strategy", "Research", "Statistics", "Product Management", "Negotiation", "pandas",
          "Policy Analysis", "Fundraising", "Team Building", "Econometrics", "Cloud Computing"]
CITIES = ["Berlin, Germany", "London, England, United Kingdom", "Paris, Île-de-France, France",
          "San Francisco Bay Area", "Toronto, Ontario, Canada", "Bengaluru, Karnataka, India",
          "São Paulo, Brazil", "Zürich, Switzerland", "Tokyo, Japan", "Nairobi, Kenya",
          "Seattle, Washington, United States", "Amsterdam, North Holland, Netherlands"]

# The docs' own example, so that the first thing a user tries looks like the documentation.
KNOWN: dict[str, dict[str, Any]] = {
    "williamhgates": {
        "name": "Bill Gates",
        "headline": "Co-chair, Bill & Melinda Gates Foundation",
        "location": "Seattle, Washington, United States",
        "profile_url": "https://www.linkedin.com/in/williamhgates",
        "connections": 500,
        "followers": 35000000,
        "about": "Co-chair of the Bill & Melinda Gates Foundation. Founder of Breakthrough "
                 "Energy. Co-founder of Microsoft. Voracious reader. Avid traveler. Active blogger.",
        "experience": [{"title": "Co-chair", "company": "Bill & Melinda Gates Foundation",
                        "duration": "2000 - Present", "location": "Seattle, WA"}],
        "education": [{"school": "Harvard University", "degree": "Dropped out",
                       "years": "1973 - 1975"}],
        "skills": ["Public Speaking", "Philanthropy", "Technology"],
    },
    "satyanadella": {
        "name": "Satya Nadella",
        "headline": "Chairman and CEO at Microsoft",
        "location": "Redmond, Washington, United States",
        "profile_url": "https://www.linkedin.com/in/satyanadella",
        "connections": 500,
        "followers": 11000000,
        "experience": [{"title": "Chairman and CEO", "company": "Microsoft",
                        "duration": "2014 - Present", "location": "Redmond, WA"}],
        "education": [{"school": "University of Chicago Booth School of Business",
                       "degree": "MBA", "years": "1994 - 1996"},
                      {"school": "University of Wisconsin-Milwaukee",
                       "degree": "MS Computer Science", "years": "1988 - 1990"}],
        "skills": ["Cloud Computing", "Leadership", "Strategy"],
    },
}


def rng_for(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _name_from_slug(slug: str, rng: random.Random) -> str:
    words = [w for w in re.split(r"[-_]", slug) if w.isalpha() and len(w) > 2]
    if len(words) >= 2:
        return " ".join(w.capitalize() for w in words[:2])
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def profile(slug: str, seed: int = 0) -> dict[str, Any]:
    """The profile the sandbox's extension 'sees' for ``slug``."""
    if slug.lower() in KNOWN:
        return dict(KNOWN[slug.lower()], profile_urn=profile_urn(slug, seed))
    rng = rng_for(seed, "profile", slug.lower())
    name = _name_from_slug(slug, rng)
    jobs: list[dict[str, Any]] = []
    year = 2025
    for _ in range(rng.randint(1, 4)):
        start = year - rng.randint(1, 6)
        end = "Present" if not jobs else str(year)
        jobs.append({"title": rng.choice(TITLES), "company": rng.choice(COMPANIES),
                     "duration": f"{start} - {end}", "location": rng.choice(CITIES)})
        year = start
    education = []
    for _ in range(rng.randint(1, 2)):
        start = year - rng.randint(3, 5)
        education.append({"school": rng.choice(SCHOOLS), "degree": rng.choice(DEGREES),
                          "years": f"{start} - {year}"})
        year = start
    current = jobs[0]
    data: dict[str, Any] = {
        "name": name,
        "headline": f"{current['title']} at {current['company']}",
        "location": rng.choice(CITIES),
        "profile_url": f"https://www.linkedin.com/in/{slug}",
        "connections": min(500, int(rng.lognormvariate(5.5, 0.8))),
        "followers": int(rng.lognormvariate(6.5, 1.5)),
        "about": f"{current['title']} working on {rng.choice(SKILLS).lower()} and "
                 f"{rng.choice(SKILLS).lower()}. Previously {jobs[-1]['title']} at "
                 f"{jobs[-1]['company']}.",
        "experience": jobs,
        "education": education,
        "skills": rng.sample(SKILLS, rng.randint(2, 6)),
        "profile_urn": profile_urn(slug, seed),
    }
    # Fields present depend on what the profile shows publicly: some are hidden.
    for hidden, chance in (("about", 0.15), ("skills", 0.1), ("followers", 0.05)):
        if rng.random() < chance:
            del data[hidden]
    return data


def posts(slug: str, seed: int = 0) -> dict[str, Any]:
    rng = rng_for(seed, "posts", slug.lower())
    items = []
    day = 28
    for _ in range(rng.randint(0, 5)):
        urn = f"urn:li:activity:{rng.randrange(7_100_000_000_000_000_000, 7_400_000_000_000_000_000)}"
        day -= rng.randint(1, 5)
        items.append({
            "urn": urn,
            "url": f"https://www.linkedin.com/feed/update/{urn}/",
            "text": f"Thoughts on {rng.choice(SKILLS).lower()} after a week at "
                    f"{rng.choice(COMPANIES)}.",
            "date": f"2026-10-{max(day, 1):02d}",
            "reactions": int(rng.lognormvariate(3, 1.2)),
            "comments": int(rng.lognormvariate(1.2, 1)),
        })
    return {"profile_slug": slug, "posts": items}


def profile_urn(slug: str, seed: int = 0) -> str:
    """A profile's URN, as fetch-profile gives it (``urn:li:fsd_profile:ACoAA...``)."""
    digest = hashlib.sha256(f"{seed}\x1furn\x1f{slug.lower()}".encode()).hexdigest()
    return f"urn:li:fsd_profile:ACoAA{digest[:28].upper()}"


def profile_posts(urn: str, seed: int = 0) -> list[dict[str, Any]]:
    """Recent posts of the profile with this URN, each naming it (``profile_urn``)."""
    return [dict(post, profile_urn=urn) for post in posts(urn, seed)["posts"]]


def company(slug: str, seed: int = 0) -> dict[str, Any]:
    rng = rng_for(seed, "company", slug.lower())
    name = " ".join(w.capitalize() for w in re.split(r"[-_]", slug) if w) or slug
    return {
        "name": name,
        "company_slug": slug,
        "industry": rng.choice(["Software Development", "Research Services", "Pharmaceuticals",
                                "Financial Services", "Non-profit Organizations", "Energy"]),
        "employee_count": int(rng.lognormvariate(7, 2)),
        "description": f"{name} works on {rng.choice(SKILLS).lower()} and "
                       f"{rng.choice(SKILLS).lower()}.",
        "headquarters": rng.choice(CITIES),
        "website": f"https://www.{slug.lower()}.example",
        "logo": f"https://media.licdn.example/company/{slug.lower()}/logo.png",
        "followers": int(rng.lognormvariate(9, 2)),
    }


def company_posts(slug: str, seed: int = 0) -> list[dict[str, Any]]:
    rng = rng_for(seed, "company-posts", slug.lower())
    return [dict(post, shares=int(rng.lognormvariate(1.5, 1)))
            for post in posts("company:" + slug, seed)["posts"]]


def search(filters: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Profiles matching a search (the same filters, the same people)."""
    key = repr(sorted((k, v) for k, v in filters.items() if k != "count"))
    rng = rng_for(seed, "search", key)
    found = []
    for _ in range(min(int(filters.get("count") or 25), rng.randint(0, 60))):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slug = f"{first}-{last}-{rng.randrange(16**6):06x}".lower()
        title = filters.get("title") or rng.choice(TITLES)
        where = filters.get("company") or rng.choice(COMPANIES)
        found.append({"name": f"{first} {last}", "headline": f"{title} at {where}",
                      "location": rng.choice(CITIES), "profile_slug": slug,
                      "profile_urn": profile_urn(slug, seed),
                      "connection_degree": rng.choice(["1st", "2nd", "2nd", "3rd+"])})
    return found


def connections(keyword: str | None, start: int, count: int, seed: int = 0,
                total: int = 230) -> list[dict[str, Any]]:
    """A page of the team admin's 1st-degree connections (``total`` of them in all)."""
    people = []
    for index in range(total):
        rng = rng_for(seed, "connection", str(index))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slug = f"{first}-{last}-{index:04d}".lower()
        people.append({"name": f"{first} {last}", "headline": rng.choice(TITLES),
                       "profile_slug": slug, "profile_urn": profile_urn(slug, seed),
                       "connected_at": f"2026-{1 + index % 10:02d}-{1 + index % 28:02d}"})
    if keyword:
        people = [p for p in people if keyword.lower() in p["name"].lower()]
    return people[start:start + count]
