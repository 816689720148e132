"""Built-in plugin: VLM4D-style question generation (`questions`), judging (`judge`) and the `vlm4d-qa`
scorer (`stage`), which asks an answerer stage the questions and reports accuracy per category."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_scorers(register):
    from plugins.vlm4d_qa.stage import VLM4DQAScorer

    register(VLM4DQAScorer)
