"""``scorelab explore``: a local web page where the user moves the levers of a scoring system
(safeguards, errors, channels, responses, investigations) and sees the effect against the
counterfactual twin (docs/explore.md). ``levers`` and ``views`` are plain Python; ``app`` is
the Solara page and ``server`` serves it (the ``explore`` extra)."""
