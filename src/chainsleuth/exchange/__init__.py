"""The exchange's own records: customers and KYC, accounts, ledger, logins, linked accounts."""
