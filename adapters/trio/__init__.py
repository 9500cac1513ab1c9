"""rvoip_sansio.adapters.trio"""
