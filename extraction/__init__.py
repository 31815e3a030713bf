"""Bill understanding: bytes in, a NormalizedBill plus reason codes out.

Deliberately empty of imports: workflow code imports ``extraction.checks`` inside the
Temporal sandbox, and importing this package must not drag in pypdf or google-genai.
"""
