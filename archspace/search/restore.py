"""`archspace results export`: a run folder rebuilt from a shared storage alone (config, space, run.json, trials, genotypes)."""
from __future__ import annotations

from pathlib import Path

from archspace.errors import ArchspaceError
from archspace.search.storage import CONFIG_ATTR, META_ATTR, SPACE_ATTR, redact


def export_run(storage_url: str, study_name: str, out: Path) -> tuple[object, int]:
    """Rebuild a run folder from the storage alone: config.yaml, space.yaml, run.json, trials.csv, genotypes/."""
    import optuna
    import yaml

    from archspace.genotype import dump_genotype
    from archspace.genotype.io import genotype_from_dict
    from archspace.safeload import parse_text
    from archspace.search.config import parse_yaml
    from archspace.search.rundir import RunDir, open_storage
    from archspace.search.record import export_trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))
        raise ArchspaceError(f"--study {study_name!r}: no such study in the storage (it has: {', '.join(names) or 'none'})") from None
    attrs = study.user_attrs
    if CONFIG_ATTR not in attrs:
        raise ArchspaceError(f"--study {study_name!r}: not an archspace search (no {CONFIG_ATTR} in its user attributes)")
    out.mkdir(parents=True, exist_ok=True)
    if any(not p.name.startswith(".") for p in out.iterdir()):
        raise ArchspaceError(f"--out {out}: is not empty; give an empty or new folder")
    run = RunDir(out, must_exist=False)
    where = f"--study {study_name!r}"
    cfg = parse_yaml(attrs[CONFIG_ATTR], f"{where}: {CONFIG_ATTR}")  # read as a config file is: the storage is shared
    meta = parse_text(attrs[META_ATTR], "json", f"{where}: {META_ATTR}")
    if not isinstance(cfg, dict) or not isinstance(meta, dict):
        raise ArchspaceError(f"{where}: its {CONFIG_ATTR} and {META_ATTR} attributes must be mappings")
    space = run.write_text("space.yaml", attrs[SPACE_ATTR])
    cfg["space"] = str(space.resolve())
    meta["space"] = {**meta.get("space", {}), "path": cfg["space"]}
    meta["storage"] = redact(storage_url)
    run.write_text("config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    run.write_json("run.json", meta)
    trials = study.get_trials(deepcopy=False)
    n = 0
    for t in trials:
        text, gid = t.user_attrs.get("genotype"), t.user_attrs.get("genotype_id")
        if text and gid and "eval_image_size" in t.user_attrs and not run.genotype_path(gid).is_file():
            genotype = genotype_from_dict(parse_text(text, "json", f"{where}: trial {t.number}'s genotype"))
            run.write_text(f"genotypes/{gid}.json", dump_genotype(genotype))
            n += 1
    export_trials(run, trials)
    return RunDir(out, storage=storage_url), n
