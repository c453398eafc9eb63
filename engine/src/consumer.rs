pub struct ConsumerState; pub struct ConsumerStore; pub struct PendingAck;
