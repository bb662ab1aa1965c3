"""lmms-eval hooks named by math.yaml and math_ood.yaml; one implementation
for all families, in tasks/lmms_utils.py."""

from tasks.lmms_utils import doc_to_text, doc_to_visual, process_results, split_docs

# process_docs of reftbench_math_id and _ood: the generated test splits.
id_docs = split_docs("math", "id")
ood_docs = split_docs("math", "ood")

__all__ = ["doc_to_visual", "doc_to_text", "process_results", "id_docs", "ood_docs"]
