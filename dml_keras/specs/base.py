"""What every run spec shares: a frozen dataclass of frozen parts, built from flat settings, varied by path,
written to and read from JSON (no Keras here)."""

import dataclasses
import os
import typing

from dml_keras.errors import SetupError


def spec_paths(parts, aliases=(), dict_keys=(), recipe=True):
    """Every flat setting name and its path (`{"steps": "schedule.steps", "depth": "network.sizes.depth"}`).

    `parts`: part name → dataclass; `aliases`: flat names whose path is not PART.FIELD (the field's own name is
    then no flat name); `dict_keys`: for a dict field, its path → the keys it may hold, each a flat name;
    `recipe`: whether the spec names a recipe (a top-level `recipe` setting).
    """
    paths = {"recipe": "recipe"} if recipe else {}
    for part, cls in parts.items():
        for field in dataclasses.fields(cls):
            path = f"{part}.{field.name}"
            if path in dict(dict_keys):
                paths.update({key: f"{path}.{key}" for key in dict(dict_keys)[path]})
            elif field.name in paths:
                raise TypeError(f"two settings are named {field.name!r}: give one of them an alias")
            else:
                paths[field.name] = path
    for name, path in dict(aliases).items():
        paths.pop(path.rsplit(".", 1)[1], None)
        paths[name] = path
    return paths


@dataclasses.dataclass(frozen=True)
class Execution:
    """Devices (`strategy`: a name or a `tf.distribute.Strategy`), precision, XLA and the seed.

    `mixed_precision`: `False`, `True` (bfloat16 on CPU, float16 on GPU), `"auto"` (bfloat16 where it pays on
    this CPU, measured: `distribute.bfloat16_pays`) or `None` (the recipe's: `"auto"` when fine-tuning a
    published generator, else `False`)."""

    strategy: typing.Any = None
    mixed_precision: typing.Any = None
    jit_compile: typing.Any = "auto"
    seed: int = 0


class RunSpec:
    """Behaviour shared by the specs; a subclass is a frozen dataclass with one field per part (and `recipe`,
    where a named recipe fills what is not given).

    Class attributes: `COMMAND` (`"train-sr"`), `VERSION` (written as `"spec"`), `PARTS` (name → class),
    `PATHS` (`spec_paths`), `DICT_KEYS` (dict field path → its keys) and `SOURCES` (paths of data, written
    as absolute paths).
    """

    COMMAND = VERSION = ""
    PARTS, PATHS, DICT_KEYS, SOURCES = {}, {}, {}, ()

    @classmethod
    def of(cls, **settings):
        """A spec from flat settings (the train function's keywords); a name that is no setting is a `SetupError`."""
        spec = cls()
        for name, value in settings.items():
            if name not in cls.PATHS:
                raise SetupError(f"{name!r} is not a setting of {cls.COMMAND}; the settings are: {', '.join(cls.PATHS)}")
            spec = spec.set(cls.PATHS[name], value)
        return spec

    def set(self, path, value):
        """A copy with the setting at `path` (`"crops.patch_size"`, or its flat name `"patch_size"`) replaced."""
        path = self.PATHS.get(path, path)
        if path == "recipe":
            return dataclasses.replace(self, recipe=value)
        part, _, rest = path.partition(".")
        inner = getattr(self, part) if part in self.PARTS else None
        field, _, key = rest.partition(".")
        known = inner is not None and field in {f.name for f in dataclasses.fields(inner)}
        dict_field = f"{part}.{field}" in self.DICT_KEYS
        if not known or bool(key) != dict_field or (dict_field and key not in self.DICT_KEYS[f"{part}.{field}"]):
            raise SetupError(f"{path!r} is not a setting of {self.COMMAND}; the settings are: "
                             f"{', '.join(self.PATHS.values())}")
        if dict_field:  # a key set to None is taken out
            value = {k: v for k, v in {**getattr(inner, field), key: value}.items() if v is not None}
        return dataclasses.replace(self, **{part: dataclasses.replace(inner, **{field: value})})

    def get(self, path):
        """The setting at `path` (or its flat name); a dict field's key that is not given is `None`."""
        value = self
        for step in self.PATHS.get(path, path).split("."):
            value = value.get(step) if isinstance(value, dict) else getattr(value, step)
        return value

    def flat(self):
        """The flat settings that make this spec again with `of` (a dict field's keys: those given)."""
        return {name: self.get(path) for name, path in self.PATHS.items()
                if path.rsplit(".", 1)[0] not in self.DICT_KEYS or self.get(path) is not None}

    def to_dict(self):
        """The spec as JSON data (`spec.json`): data paths absolute, objects that have no path `None`."""
        def stored(path, value):
            if path in self.SOURCES:
                return stored_source(value)
            if path == "execution.strategy":
                return value if value is None or isinstance(value, str) else None
            return list(value) if isinstance(value, tuple) else value

        nested = {"spec": self.VERSION, **({"recipe": self.recipe} if "recipe" in self.PATHS else {})}
        for part in self.PARTS:
            inner = getattr(self, part)
            nested[part] = {f.name: stored(f"{part}.{f.name}", getattr(inner, f.name))
                            for f in dataclasses.fields(inner)}
        return nested

    @classmethod
    def from_dict(cls, nested, where="the spec"):
        """The spec written by `to_dict`; anything else is a `SetupError` naming `where`. Lists become tuples."""
        if not isinstance(nested, dict) or nested.get("spec") != cls.VERSION:
            raise SetupError(f"{where} is not a {cls.COMMAND} spec ({cls.VERSION}): give the spec.json a run wrote")
        spec = cls(**({"recipe": nested.get("recipe", "default")} if "recipe" in cls.PATHS else {}))
        for part, values in nested.items():
            if part in ("spec", "recipe"):
                continue
            if part not in cls.PARTS or not isinstance(values, dict):
                raise SetupError(f"{where}: {part!r} is not a part of a {cls.COMMAND} spec ({', '.join(cls.PARTS)})")
            for name, value in values.items():
                if f"{part}.{name}" in cls.DICT_KEYS:
                    for key, item in (value or {}).items():
                        spec = spec.set(f"{part}.{name}.{key}", item)
                else:
                    spec = spec.set(f"{part}.{name}", tuple(value) if isinstance(value, list) else value)
        return spec


def stored_source(model):
    """A built-in degradation or a preset as its name; a file or folder as its absolute path; `None` for what has
    no path (a list of pairs, a model object)."""
    from dml_keras.names import BUILTIN_DEGRADATIONS
    from dml_keras.presets import PRESETS

    if isinstance(model, str) and (model in BUILTIN_DEGRADATIONS or model in PRESETS):
        return model
    return os.path.abspath(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else None


def parse_value(text):
    """A `--set PATH=VALUE` value: a number, true/false, none, a range `LOW,HIGH`, or text (`~` expanded)."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return os.path.expanduser(text) if text.startswith("~") else text
