"""lmms-eval hooks named by classification.yaml; one implementation for all families, in
tasks/lmms_utils.py."""

from tasks.lmms_utils import doc_to_text, doc_to_visual, process_results

__all__ = ["doc_to_visual", "doc_to_text", "process_results"]
