.PHONY: sync readme test

# notebooks -> library, clean notebooks
sync:
	nbdev_export && nbdev_clean

# README.md is generated from nbs/index.ipynb (nbdev_readme needs Quarto; this needs only nbconvert)
readme:
	jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README --log-level WARN

# the README's test command: both parts always run, each failure is named, and any failure fails the target
test:
	@unset ROTPRUNE_CLAIMS ROTPRUNE_CLAIMS_KEEP_GOING; status=0; \
	nbdev_test || { echo "make test: nbdev_test (the notebooks in quick mode) FAILED"; status=1; }; \
	pytest -q tests || { echo "make test: pytest FAILED"; status=1; }; \
	exit $$status
