"""Built-in plugin: judging answers to VLM4D-style questions (`judge`) and the `vlm4d-qa` scorer (`stage`),
which generates the questions (worldsim.qa.questions), asks an answerer stage and reports accuracy per category."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_scorers(register):
    from plugins.vlm4d_qa.stage import VLM4DQAScorer

    register(VLM4DQAScorer)
