from pathlib import Path

# Public test data kept in the repository (tests/data/conformance/SOURCE.md says where each file comes from).
CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance"
