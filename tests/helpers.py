"""Small deck-writing helpers shared by the platform tests."""
import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SP_MODEL = os.path.join(REPO, "inputs", "models", "sp_cubic_hr.dat")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def write_deck(path, tables: dict):
    """Write {table: {key: value}} as TOML (values None are left out)."""
    lines = []
    for name, keys in tables.items():
        lines.append(f"[{name}]")
        for k, v in keys.items():
            if v is not None:
                lines.append(f"{k} = {toml_value(v)}")
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return str(path)


def dos_tables(out="out.h5", size=(8, 8, 8), **dos):
    return {
        "calculation": {"type": "dos"},
        "model": {"hr_file": "sp_hr.dat", "electrons": 3.0},
        "kmesh": {"size": list(size), "shift": [0.5, 0.5, 0.5]},
        "dos": {"broadening": 0.1, **dos},
        "output": {"file": out, "overwrite": True, "plots": False},
    }


def copy_model(folder):
    shutil.copy(SP_MODEL, os.path.join(folder, "sp_hr.dat"))
