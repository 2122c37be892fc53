"""The built-in domains, each a plugin like a third party's (entry points in
``pyproject.toml``): ``qa`` (know what you don't know) and ``chess`` (learn which moves
are good). A domain's folder holds what it adds: its schemes, its behaviour metrics and
its additions to a training run."""
