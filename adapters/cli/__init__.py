"""rvoip_sansio.adapters.cli"""
