"""contacts-pipeline: spreadsheets <-> Genesys Cloud External Contacts."""

__version__ = "0.1.0"
