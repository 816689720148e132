"""Thin Prefect flows: they order stage calls and pass run state, nothing else.

- `flows.generate_4d.generate_4d`: the `worldsim` flow, served as deployment `worldsim/generate-4d`
  by `worldsim serve` (see worldsim/serve.py).

The flow is deliberately not re-exported here: a package attribute named `generate_4d` would shadow
the submodule of the same name (breaking `mock.patch("flows.generate_4d....")`), and `import flows`
stays free of the prefect import.
"""
