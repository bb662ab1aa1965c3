"""The build of the embedded `base` model (`reftbench base`): the recipe and its phases
(vision pretraining, the comparison pretraining and its rehearsal)."""
