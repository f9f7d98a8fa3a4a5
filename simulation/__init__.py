"""slsim: an agent-based model of shared leadership in an NHS integrated care system."""

import warnings

# configs/hydra/launcher/*.yaml share their names with the launcher plugins' schemas on purpose,
# so Hydra type-checks them; Hydra 1.3 warns about that at every composition, in every worker.
warnings.filterwarnings("ignore", category=UserWarning,
                        message=r"(?s).*validated against ConfigStore schema with the same name")
