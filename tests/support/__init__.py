"""What the tests share: where the fixtures are (paths), the document builder, a test TSA, the real
stack. Imported as ``tests.support.*`` (pytest puts the repository root on the path because ``tests``
is a package)."""
