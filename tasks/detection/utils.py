"""lmms-eval hooks named by detection.yaml and detection_ood.yaml: this family's test splits.

The hooks every family shares (doc_to_visual, doc_to_text, process_results) are in
tasks/lmms_utils.py, named by tasks/task_template.yaml.
"""

from pathlib import Path

from tasks.lmms_utils import split_docs

# The family is this folder's name, so a copied folder needs no edit here.
FAMILY = Path(__file__).resolve().parent.name

# process_docs of reftbench_<family>_id and _ood: the generated test splits.
id_docs = split_docs(FAMILY, "id")
ood_docs = split_docs(FAMILY, "ood")
