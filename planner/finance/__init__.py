"""Money that finance recognises: depreciation, book value, leases, time-phased cash (see README, Money)."""
