"""Interventions (issue 3 fills the catalogue)."""


def build_interventions(scenario):
    if scenario.interventions:
        raise NotImplementedError
    return []
