"""The document: reading its bytes (bounded), opening the PDF, its data parts, and the limits."""
