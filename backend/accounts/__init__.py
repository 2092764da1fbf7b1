"""Customer accounts (the CRM facts the policy reads) and who a sender is."""
