-- AutoGPT's platform tables as Prisma creates them (from ../shared/AUTOGPT.md, schema.prisma
-- 014e799e): quoted model and field names, timestamp(3) without time zone, jsonb, and the
-- "AgentExecutionStatus" enum. Tables execlens does not read are left out, and so are the
-- foreign keys to them (AgentPreset, IntegrationWebhook).
CREATE TYPE "AgentExecutionStatus" AS ENUM
    ('INCOMPLETE', 'QUEUED', 'RUNNING', 'COMPLETED', 'TERMINATED', 'FAILED', 'REVIEW');

CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "AgentBlock" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "inputSchema" TEXT NOT NULL,
    "outputSchema" TEXT NOT NULL,
    "description" TEXT,
    "optimizedDescription" TEXT,
    CONSTRAINT "AgentBlock_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "AgentBlock_name_key" ON "AgentBlock"("name");

CREATE TABLE "AgentGraph" (
    "id" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3),
    "name" TEXT,
    "description" TEXT,
    "instructions" TEXT,
    "recommendedScheduleCron" TEXT,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "userId" TEXT NOT NULL,
    "forkedFromId" TEXT,
    "forkedFromVersion" INTEGER,
    CONSTRAINT "AgentGraph_pkey" PRIMARY KEY ("id", "version"),
    CONSTRAINT "AgentGraph_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id")
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentGraph_forkedFromId_forkedFromVersion_fkey"
        FOREIGN KEY ("forkedFromId", "forkedFromVersion") REFERENCES "AgentGraph"("id", "version")
        ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "AgentGraph_userId_isActive_id_version_idx"
    ON "AgentGraph"("userId", "isActive", "id", "version");

CREATE TABLE "AgentNode" (
    "id" TEXT NOT NULL,
    "agentBlockId" TEXT NOT NULL,
    "agentGraphId" TEXT NOT NULL,
    "agentGraphVersion" INTEGER NOT NULL DEFAULT 1,
    "constantInput" JSONB NOT NULL DEFAULT '{}',
    "webhookId" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "AgentNode_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AgentNode_agentBlockId_fkey" FOREIGN KEY ("agentBlockId")
        REFERENCES "AgentBlock"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "AgentNode_agentGraphId_agentGraphVersion_fkey"
        FOREIGN KEY ("agentGraphId", "agentGraphVersion") REFERENCES "AgentGraph"("id", "version")
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "AgentNode_agentGraphId_agentGraphVersion_idx"
    ON "AgentNode"("agentGraphId", "agentGraphVersion");
CREATE INDEX "AgentNode_agentBlockId_idx" ON "AgentNode"("agentBlockId");

CREATE TABLE "AgentNodeLink" (
    "id" TEXT NOT NULL,
    "agentNodeSourceId" TEXT NOT NULL,
    "sourceName" TEXT NOT NULL,
    "agentNodeSinkId" TEXT NOT NULL,
    "sinkName" TEXT NOT NULL,
    "isStatic" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "AgentNodeLink_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AgentNodeLink_agentNodeSourceId_fkey" FOREIGN KEY ("agentNodeSourceId")
        REFERENCES "AgentNode"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentNodeLink_agentNodeSinkId_fkey" FOREIGN KEY ("agentNodeSinkId")
        REFERENCES "AgentNode"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "AgentNodeLink_agentNodeSourceId_idx" ON "AgentNodeLink"("agentNodeSourceId");
CREATE INDEX "AgentNodeLink_agentNodeSinkId_idx" ON "AgentNodeLink"("agentNodeSinkId");

CREATE TABLE "AgentGraphExecution" (
    "id" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3),
    "startedAt" TIMESTAMP(3),
    "endedAt" TIMESTAMP(3),
    "isDeleted" BOOLEAN NOT NULL DEFAULT false,
    "executionStatus" "AgentExecutionStatus" NOT NULL DEFAULT 'COMPLETED',
    "agentGraphId" TEXT NOT NULL,
    "agentGraphVersion" INTEGER NOT NULL DEFAULT 1,
    "agentPresetId" TEXT,
    "inputs" JSONB,
    "credentialInputs" JSONB,
    "nodesInputMasks" JSONB,
    "userId" TEXT NOT NULL,
    "stats" JSONB,
    "parentGraphExecutionId" TEXT,
    "isShared" BOOLEAN NOT NULL DEFAULT false,
    "shareToken" TEXT,
    "sharedAt" TIMESTAMP(3),
    CONSTRAINT "AgentGraphExecution_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AgentGraphExecution_agentGraphId_agentGraphVersion_fkey"
        FOREIGN KEY ("agentGraphId", "agentGraphVersion") REFERENCES "AgentGraph"("id", "version")
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentGraphExecution_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id")
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentGraphExecution_parentGraphExecutionId_fkey"
        FOREIGN KEY ("parentGraphExecutionId") REFERENCES "AgentGraphExecution"("id")
        ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "AgentGraphExecution_shareToken_key" ON "AgentGraphExecution"("shareToken");
CREATE INDEX "AgentGraphExecution_agentGraphId_agentGraphVersion_idx"
    ON "AgentGraphExecution"("agentGraphId", "agentGraphVersion");
CREATE INDEX "AgentGraphExecution_userId_isDeleted_createdAt_idx"
    ON "AgentGraphExecution"("userId", "isDeleted", "createdAt");
CREATE INDEX "AgentGraphExecution_createdAt_idx" ON "AgentGraphExecution"("createdAt");

CREATE TABLE "AgentNodeExecution" (
    "id" TEXT NOT NULL,
    "agentGraphExecutionId" TEXT NOT NULL,
    "agentNodeId" TEXT NOT NULL,
    "executionStatus" "AgentExecutionStatus" NOT NULL DEFAULT 'COMPLETED',
    "executionData" JSONB,
    "addedTime" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "queuedTime" TIMESTAMP(3),
    "startedTime" TIMESTAMP(3),
    "endedTime" TIMESTAMP(3),
    "stats" JSONB,
    CONSTRAINT "AgentNodeExecution_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AgentNodeExecution_agentGraphExecutionId_fkey" FOREIGN KEY ("agentGraphExecutionId")
        REFERENCES "AgentGraphExecution"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentNodeExecution_agentNodeId_fkey" FOREIGN KEY ("agentNodeId")
        REFERENCES "AgentNode"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "AgentNodeExecution_agentGraphExecutionId_agentNodeId_executionStatus_idx"
    ON "AgentNodeExecution"("agentGraphExecutionId", "agentNodeId", "executionStatus");
CREATE INDEX "AgentNodeExecution_agentNodeId_executionStatus_idx"
    ON "AgentNodeExecution"("agentNodeId", "executionStatus");
CREATE INDEX "AgentNodeExecution_addedTime_queuedTime_idx"
    ON "AgentNodeExecution"("addedTime", "queuedTime");

CREATE TABLE "AgentNodeExecutionInputOutput" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "data" JSONB,
    "time" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "referencedByInputExecId" TEXT,
    "referencedByOutputExecId" TEXT,
    "agentPresetId" TEXT,
    CONSTRAINT "AgentNodeExecutionInputOutput_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AgentNodeExecutionInputOutput_referencedByInputExecId_fkey"
        FOREIGN KEY ("referencedByInputExecId") REFERENCES "AgentNodeExecution"("id")
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AgentNodeExecutionInputOutput_referencedByOutputExecId_fkey"
        FOREIGN KEY ("referencedByOutputExecId") REFERENCES "AgentNodeExecution"("id")
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "AgentNodeExecutionInputOutput_referencedByInputExecId_referencedByOutputExecId_name_key"
    ON "AgentNodeExecutionInputOutput"("referencedByInputExecId", "referencedByOutputExecId", "name");
CREATE INDEX "AgentNodeExecutionInputOutput_referencedByOutputExecId_idx"
    ON "AgentNodeExecutionInputOutput"("referencedByOutputExecId");
CREATE INDEX "AgentNodeExecutionInputOutput_name_time_idx"
    ON "AgentNodeExecutionInputOutput"("name", "time");
