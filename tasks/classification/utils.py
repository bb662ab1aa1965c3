"""lmms-eval hooks named by classification.yaml and classification_ood.yaml; one implementation
for all families, in tasks/lmms_utils.py."""

from tasks.lmms_utils import doc_to_text, doc_to_visual, process_results, split_docs

# process_docs of reftbench_classification_id and _ood: the generated test splits.
id_docs = split_docs("classification", "id")
ood_docs = split_docs("classification", "ood")

__all__ = ["doc_to_visual", "doc_to_text", "process_results", "id_docs", "ood_docs"]
