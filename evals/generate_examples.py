"""A generated base of illustrative case examples, for load and scale measurements (evals/bench_scale.py).

The real base has more than 1,000 case examples; the sample corpus has 172. This writes N examples in the
corpus's JSONL format (fields of corpus/exemples/exemples.jsonl), assembled from templates: every
organisation is invented and named « fictive », every record is `illustratif: true` and its `source` says it
was generated. They exist to give the index a realistic size and shape (metadata facets, lengths), not facts.

    python -m evals.generate_examples [--count 1200] [--seed 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = json.loads((ROOT / "corpus" / "_sources" / "allowed_values.json").read_text(encoding="utf-8"))

PLACES = ["du Val d'Argent", "des Trois Rivières", "de la Haute-Lande", "du Pays des Étangs", "de Roche-Claire",
          "des Coteaux du Lys", "de Port-Aubin", "du Causse Vert", "de la Vallée Douce", "des Marais Bleus",
          "de Saint-Onésime", "du Bocage des Hêtres", "de Belle-Combe", "des Landes de Brume", "de Mont-Ardent"]
ORG_KIND = {
    "association": ["Association fictive {n}", "Collectif associatif fictif {n}", "Association fictive Les Amis {p}"],
    "entreprise": ["Entreprise fictive {n}", "Coopérative fictive {n}", "PME fictive {n}"],
    "collectivité": ["Commune fictive {p}", "Communauté de communes fictive {p}", "Département fictif {p}"],
    "fondation": ["Fondation fictive {n}", "Fonds de dotation fictif {n}"],
    "académique": ["Université fictive {p}", "Laboratoire fictif {n}", "Lycée agricole fictif {p}"],
    "citoyen": ["Collectif d'habitants fictif {p}", "Conseil citoyen fictif {p}"],
    "État": ["Service déconcentré fictif {p}"],
}
NAMES = ["Horizon Partagé", "Les Liens du Quartier", "Terre Commune", "Atelier des Possibles", "Cap Solidaire",
         "Le Fil Rouge", "Racines et Ailes", "Pas à Pas", "Les Ponts Ouverts", "Graines d'Avenir", "L'Étincelle",
         "Main Tendue", "Chemins Croisés", "Le Grand Large", "Les Communs du Bourg"]
PROBLEMS = {
    "Éducation et jeunesse": "trop de jeunes quittaient l'école sans qualification",
    "Emploi et insertion": "les personnes éloignées de l'emploi ne trouvaient pas de première expérience",
    "Santé": "l'accès à un médecin traitant devenait difficile pour les habitants isolés",
    "Environnement et biodiversité": "les zones humides reculaient faute d'entretien",
    "Transition énergétique": "les factures d'énergie pesaient sur les ménages modestes",
    "Alimentation et agriculture": "les producteurs locaux peinaient à vendre près de chez eux",
    "Culture et patrimoine": "le patrimoine bâti du bourg se dégradait sans usage",
    "Solidarités et lutte contre la pauvreté": "des familles renonçaient à leurs droits faute d'accompagnement",
    "Mobilité": "sans voiture, il était impossible de rejoindre la zone d'activités",
    "Numérique inclusif": "les démarches en ligne excluaient les personnes âgées",
    "Sport": "les clubs perdaient leurs bénévoles et leurs jeunes licenciés",
    "Logement": "les logements vacants du centre-bourg restaient fermés",
}
ACTIONS = ["a réuni autour d'une même table", "a proposé un programme commun à", "a monté une convention avec",
           "a lancé une expérimentation avec"]
RESULTS = ["{a} personnes accompagnées", "{a} bénévoles mobilisés", "{b} partenaires engagés", "{a} jeunes formés",
           "{c} tonnes de déchets évitées", "{b} communes couvertes", "{c} emplois créés"]
LESSONS = ["une gouvernance partagée, avec une présidence tournante", "un diagnostic commun avant toute action",
           "une convention écrite qui fixe le rôle de chacun", "un financement pluriannuel qui donne de la visibilité",
           "une évaluation menée avec les habitants", "un animateur dédié à la coordination du réseau"]


def _org(kind: str, rng: random.Random) -> str:
    return rng.choice(ORG_KIND[kind]).format(n=rng.choice(NAMES), p=rng.choice(PLACES))


def example(i: int, rng: random.Random) -> dict:
    domains = [d for d in ALLOWED["domaines"] if d in PROBLEMS]
    domain = rng.choice(domains)
    region = rng.choice([r for r in ALLOWED["regions"] if r != "National"])
    actors = sorted(set(["association", rng.choice(["collectivité", "entreprise"])]
                        + rng.sample(["fondation", "académique", "citoyen", "entreprise", "collectivité"],
                                     rng.randint(0, 2))))
    partners = [_org(a, rng) for a in actors]
    place = rng.choice(PLACES)
    year = rng.randint(2008, 2025)
    amount = rng.randint(8, 400) * 1000
    results = rng.sample(RESULTS, 2)
    figures = [r.format(a=rng.randint(20, 900), b=rng.randint(3, 40), c=rng.randint(2, 60)) for r in results]
    lesson = rng.choice(LESSONS)
    description = (
        f"En {year}, le constat était simple sur le territoire {place} : {PROBLEMS[domain]}. "
        f"{partners[0]} {rng.choice(ACTIONS)} {', '.join(partners[1:]) or 'les acteurs du territoire'}. "
        f"Le projet a mobilisé {amount // 1000} 000 euros sur {rng.randint(2, 6)} ans, financés à parts "
        f"partagées. Résultats : {figures[0]} et {figures[1]}. "
        f"Les partenaires retiennent surtout {lesson}. "
        "Cet exemple est illustratif : il a été généré pour mesurer Sève à l'échelle et ne décrit aucune "
        "organisation réelle.")
    return {
        "id": f"GEN-{i:04d}",
        "title": f"{domain} {place} : une alliance entre {len(partners)} partenaires ({region})",
        "resume": f"Sur le territoire {place}, {len(partners)} partenaires agissent ensemble car "
                  f"{PROBLEMS[domain]}.",
        "description": description,
        "partenaires": partners,
        "acteurs": actors,
        "region": region,
        "territoire": f"Territoire fictif {place}",
        "domaine": domain,
        "type": rng.choice(ALLOWED["types"]),
        "annee": year,
        "doc_type": "exemple",
        "illustratif": True,
        "source": "Exemple illustratif généré (evals/generate_examples.py) pour les mesures de charge de Sève",
    }


def generate(count: int = 1200, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [example(i + 1, rng) for i in range(count)]


def write(path: Path, count: int = 1200, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in generate(count, seed)),
                    encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / ".seve" / "bench" / "exemples-generes" / "exemples.jsonl"))
    args = parser.parse_args()
    print(write(Path(args.out), args.count, args.seed))


if __name__ == "__main__":
    main()
