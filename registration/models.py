# Models arrive with the capabilities that need them.
