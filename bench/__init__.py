"""kit's benchmark (``python -m bench``): kit against one limit per scenario and against real peers
(docs loops, OutX's MCP pattern, linkup-sdk, hand-written asyncio), side by side."""
