"""Recipes: the scripts that build each shipped model from the data kit (pair → train →
evaluate → ship), e.g. `python -m dancegen.recipes.gcdance_small --kit ../shared/data`.
Library code never knows where the kit lives; a recipe is told."""
