"""Documentation as code: the repository's Markdown, rendered from tracked facts.

The renderers here take plain data (``models.RunRecord``, ``DatasetVersion``, ``Artifact``
and the decisions read from ``docs/lab/decisions``) and return text, so the same
facts always give byte-identical files. ``site.py`` renders the whole tree, keeps the
hand-written blocks of the files already there, and writes or checks it.
"""
