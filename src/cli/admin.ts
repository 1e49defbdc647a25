import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("admin", "Manage a portal through its admin API");
