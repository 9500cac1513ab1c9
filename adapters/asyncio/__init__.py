"""rvoip_sansio.adapters.asyncio"""
