.PHONY: sync readme test

# notebooks -> library, clean notebooks
sync:
	nbdev_export && nbdev_clean

# README.md is generated from nbs/index.ipynb (nbdev_readme needs Quarto; this needs only nbconvert)
readme:
	jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README --log-level WARN

# the README's test command
test:
	nbdev_test && pytest -q tests
