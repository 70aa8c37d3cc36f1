pytest_plugins = ["narrative_devstack.pytest_plugin"]
