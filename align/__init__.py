"""align: post-training methods as resumable, reproducible recipes of stages."""

__version__ = "0.2.0"


def run(recipe, overrides=None, run_dir=None, smoke=False, fresh=False):
    """Run a recipe from Python and get its metrics and outputs back (see `align.api.run`)."""
    from align.api import run as run_recipe  # imported on use, so `import align` stays instant

    return run_recipe(recipe, overrides, run_dir, smoke, fresh)
